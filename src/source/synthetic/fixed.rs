//! `Fixed`: a value of the fixed vocabulary serialised once, on first use, and
//! written verbatim from then on (see `json.rs` for why).

use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A value of the fixed vocabulary (a concept, the insurer, a facility, …)
/// with its JSON text, made on first use: serialising it writes that text
/// verbatim, so the serialiser neither walks the value nor scans its strings
/// for characters to escape. The text is serde_json's own serialisation of the
/// value, so the output is the same, byte for byte, as serialising the value.
///
/// Every `Fixed` lives in a `static` table (never a `const`, which would copy
/// the cache; nor a promoted `&[…]` temporary, which cannot hold one).
pub(super) struct Fixed<T> {
    /// What the text is made from, once.
    value: T,
    /// The text, as a [`RawValue`] because serde_json writes those verbatim.
    json: OnceLock<Box<RawValue>>,
}

impl<T: Serialize> Fixed<T> {
    pub(super) const fn new(value: T) -> Self {
        Fixed {
            value,
            json: OnceLock::new(),
        }
    }

    fn json(&self) -> &RawValue {
        self.json.get_or_init(|| {
            // Cannot fail: the vocabulary holds only strings and arrays of them.
            serde_json::value::to_raw_value(&self.value).expect("the vocabulary serialises")
        })
    }
}

impl<T: Serialize> Serialize for Fixed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use crate::source::synthetic::claim_types::CLAIM_TYPES;
    use crate::source::synthetic::model::{Item, Product};
    use crate::source::synthetic::vocabulary::{DRUGS, REVENUE_CENTERS};

    #[test]
    fn fixed_values_are_written_as_serde_json_writes_them() {
        let fixed = &CLAIM_TYPES[2].full_type;
        let expected = serde_json::to_string(&fixed.value).unwrap();
        assert_eq!(serde_json::to_string(fixed).unwrap(), expected);
        assert_eq!(serde_json::to_string(fixed).unwrap(), expected, "cached");
        let line = serde_json::to_string(&Item {
            revenue: Some(&REVENUE_CENTERS[0]),
            ..Item::new(1, [1], Product::Listed(&DRUGS[0]), None)
        })
        .unwrap();
        assert!(line.contains(concat!(
            r#""revenue":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/rev_cntr","code":"0001"},"#,
            r#"{"system":"https://www.nubc.org/CodeSystem/RevenueCodes","code":"0001"}]},"#,
            r#""productOrService":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"67877022305","display":"Gabapentin - GABAPENTIN"}]}"#
        )), "{line}");
    }
}
