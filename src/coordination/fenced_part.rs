//! [`FencedPart`]: the name of a part written under a batch claim.
//!
//! In one process a part is `tmp_000042.ndjson`: batch 42 is written by one
//! fetcher at a time. Across processes a paused worker can wake after its lease
//! was taken over and finish writing the same batch; its part must not be
//! mistaken for the new owner's. So the name carries the claim's fencing token
//! too, `tmp_000042-t3.ndjson`, and the aggregator adopts only the
//! (batch, token) pairs the database says are committed.

use std::fmt;

use crate::store::layout::{FileKind, DATA_SUFFIX, ERROR_SUFFIX, PART_PREFIX};

/// Between the batch number and the token in a fenced part name.
const TOKEN_MARK: &str = "-t";

/// A part written by the claim `token` of batch `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FencedPart {
    /// The batch number (from 1).
    pub batch: u64,
    /// The fencing token of the claim that wrote it (from 1).
    pub token: u64,
    /// Claims, or `OperationOutcome`s.
    pub kind: FileKind,
}

impl FencedPart {
    /// `tmp_000042-t3.ndjson` or `tmp_000042-t3_error.ndjson`: the batch padded
    /// to six digits as [`crate::JobLayout::part_name`] does, the token as is.
    pub fn file_name(&self) -> String {
        self.to_string()
    }

    /// The part a file name stands for, or `None` unless the name is exactly what
    /// [`file_name`](Self::file_name) makes (no other spelling of the same batch
    /// and token is accepted, so one claim cannot be adopted under two names).
    pub fn parse(name: &str) -> Option<FencedPart> {
        let kind = FileKind::of_part(name)?;
        let suffix = match kind {
            FileKind::Data => DATA_SUFFIX,
            FileKind::Error => ERROR_SUFFIX,
        };
        let middle = name.strip_prefix(PART_PREFIX)?.strip_suffix(suffix)?;
        let (batch, token) = middle.split_once(TOKEN_MARK)?;
        let part = FencedPart {
            batch: digits(batch)?,
            token: digits(token)?,
            kind,
        };
        (part.batch > 0 && part.token > 0 && part.file_name() == name).then_some(part)
    }
}

impl fmt::Display for FencedPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.kind {
            FileKind::Data => DATA_SUFFIX,
            FileKind::Error => ERROR_SUFFIX,
        };
        write!(
            f,
            "{PART_PREFIX}{:06}{TOKEN_MARK}{}{suffix}",
            self.batch, self.token
        )
    }
}

/// A number written in ASCII digits only (`u64::from_str` also takes a `+`).
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::JobLayout;

    fn part(batch: u64, token: u64, kind: FileKind) -> FencedPart {
        FencedPart { batch, token, kind }
    }

    #[test]
    fn names_carry_batch_and_token() {
        assert_eq!(
            part(42, 3, FileKind::Data).file_name(),
            "tmp_000042-t3.ndjson"
        );
        assert_eq!(
            part(42, 3, FileKind::Error).file_name(),
            "tmp_000042-t3_error.ndjson"
        );
        assert_eq!(
            part(1_234_567, u64::MAX, FileKind::Data).file_name(),
            "tmp_1234567-t18446744073709551615.ndjson"
        );
    }

    #[test]
    fn names_parse_back() {
        for p in [
            part(1, 1, FileKind::Data),
            part(42, 3, FileKind::Error),
            part(999_999, 12, FileKind::Data),
            part(1_000_000, 7, FileKind::Error),
            part(u64::MAX, u64::MAX, FileKind::Error),
        ] {
            assert_eq!(FencedPart::parse(&p.file_name()), Some(p), "{p}");
        }
    }

    #[test]
    fn other_spellings_are_not_fenced_parts() {
        for name in [
            "tmp_000042.ndjson",                       // an unfenced part
            "tmp_42-t3.ndjson",                        // batch not padded
            "tmp_000042-t03.ndjson",                   // token with a leading zero
            "tmp_000042-t+3.ndjson",                   // a sign
            "tmp_000042-t.ndjson",                     // no token
            "tmp_-t3.ndjson",                          // no batch
            "tmp_000000-t3.ndjson",                    // batch 0
            "tmp_000042-t0.ndjson",                    // token 0: never a claim
            "tmp_000042-t3-t4.ndjson",                 // two tokens
            "tmp_000042-t3.json",                      // not NDJSON
            "tmp_000042-t3.ndjson.tmp",                // a temp file
            "Z9000_0001.ndjson",                       // an output
            "tmp_000042-t99999999999999999999.ndjson", // token overflows
        ] {
            assert_eq!(FencedPart::parse(name), None, "{name}");
        }
    }

    #[test]
    fn today_s_layout_does_not_read_a_batch_from_a_fenced_name() {
        // The in-process recovery finds done batches with `batch_of_part`; a
        // fenced name must not pass for an unfenced part of some batch there.
        let name = part(42, 3, FileKind::Data).file_name();
        assert_eq!(JobLayout::batch_of_part(&name), None);
        assert_eq!(FileKind::of_part(&name), Some(FileKind::Data));
    }
}
