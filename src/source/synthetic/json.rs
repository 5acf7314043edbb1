//! Writing an EOB as JSON, under one rule: fixed text is not serialised again
//! for every EOB.
//!
//! Resources are serialised by serde_json from borrowed `#[derive(Serialize)]`
//! structs whose short random codes live inline. Everything fixed (the code
//! systems' concepts and codings, extensions, the insurer, profiles) is a
//! `Fixed` value (`fixed.rs`) in a `static` table, serialised once, on first use, into JSON
//! text written verbatim from then on; that is about two thirds of a full EOB,
//! which serde_json then neither walks nor scans for characters to escape. The
//! EOB's own object, whose keys are much of a small EOB, is written by hand: its
//! keys and constant values are literal text around its serialised members.
//! Each EOB is written into a per-thread scratch buffer and copied out at its
//! exact size. `cargo bench --bench synthetic` measures generation.

use std::cell::RefCell;

use serde::Serialize;

use super::model::Eob;
use super::Resource;

/// Serialises `eob` into this thread's scratch buffer, which keeps its
/// capacity from one EOB to the next, and copies the text out: one allocation
/// of the exact size instead of a string grown by doubling.
pub(super) fn to_resource(eob: &Eob<'_>) -> Result<Resource, serde_json::Error> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        eob.write_json(scratch)?;
        let text = std::str::from_utf8(scratch).expect("JSON text is UTF-8");
        Ok(Resource(text.to_owned()))
    })
}

impl Eob<'_> {
    /// Appends the EOB's JSON text to `out`: what a derived `Serialize` would
    /// write, but with the keys and constant values of the EOB's own object
    /// as literal text, which serde_json would otherwise scan for characters
    /// to escape on every EOB (a small EOB is mostly such keys). Each member
    /// is serialised by serde_json; empty ones are left out.
    pub(super) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        /// `text` (keys and punctuation, nothing to escape), then `value`.
        fn put<T: Serialize + ?Sized>(
            out: &mut Vec<u8>,
            text: &str,
            value: &T,
        ) -> Result<(), serde_json::Error> {
            out.extend_from_slice(text.as_bytes());
            serde_json::to_writer(out, value)
        }
        fn put_some<T: Serialize + ?Sized>(
            out: &mut Vec<u8>,
            text: &str,
            value: Option<&T>,
        ) -> Result<(), serde_json::Error> {
            value.map_or(Ok(()), |value| put(out, text, value))
        }
        fn put_nonempty<T: Serialize>(
            out: &mut Vec<u8>,
            text: &str,
            values: &[T],
        ) -> Result<(), serde_json::Error> {
            put_some(out, text, (!values.is_empty()).then_some(values))
        }

        put(
            out,
            r#"{"resourceType":"ExplanationOfBenefit","id":"#,
            self.id,
        )?;
        put(out, r#","meta":"#, &self.meta)?;
        put_some(out, r#","contained":"#, self.contained.as_ref())?;
        put_some(out, r#","identifier":"#, self.identifier.as_ref())?;
        put(out, r#","status":"active","type":"#, self.type_)?;
        put(out, r#","use":"claim","patient":"#, &self.patient)?;
        put(out, r#","billablePeriod":"#, &self.billable_period)?;
        put(out, r#","created":"#, &self.created)?;
        put(out, r#","insurer":"#, self.insurer)?;
        put(out, r#","provider":"#, &self.provider)?;
        put_some(out, r#","facility":"#, self.facility)?;
        out.extend_from_slice(br#","outcome":"complete""#);
        put_nonempty(out, r#","careTeam":"#, &self.care_team)?;
        put_nonempty(out, r#","supportingInfo":"#, &self.supporting_info)?;
        put_nonempty(out, r#","diagnosis":"#, &self.diagnosis)?;
        put_nonempty(out, r#","procedure":"#, &self.procedure)?;
        put(out, r#","insurance":"#, &self.insurance)?;
        put_nonempty(out, r#","item":"#, &self.item)?;
        put_some(out, r#","total":"#, self.total.as_ref())?;
        put(out, r#","payment":"#, &self.payment)?;
        out.push(b'}');
        Ok(())
    }
}
