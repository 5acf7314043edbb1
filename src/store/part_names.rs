//! [`PartNames`]: the names of a group of parts of one kind, kept compact.
//!
//! A job of a million beneficiaries in batches of ten makes 100,000 parts, and
//! with AB2D's 200 MiB outputs tens of thousands of them wait at once and go into
//! one output. Kept as strings (or paths), their names would be most of the
//! memory a job uses. A part named the way this crate names it
//! (`tmp_000042.ndjson`, see [`JobLayout::part_name`]) is kept as its batch
//! number alone, four bytes; any other part name (from another writer sharing
//! the job directory) is kept whole. Names are made again when they are needed:
//! to open, rename or delete a part, and to write the journal line.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::store::layout::{FileKind, JobLayout};

/// The names of parts of one kind: batch numbers where the name is the one this
/// crate gives that batch, whole names otherwise. Iterates batches first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartNames {
    /// Kind of every part; `None` until the first name is pushed.
    kind: Option<FileKind>,
    batches: Vec<u32>,
    others: Vec<Box<str>>,
}

impl PartNames {
    /// The compact form of `name`, a part of `kind`: its batch number when the
    /// name is exactly [`JobLayout::part_name`] of that batch.
    pub fn batch_of(name: &str, kind: FileKind) -> Option<u32> {
        let batch = u32::try_from(JobLayout::batch_of_part(name)?).ok()?;
        (*JobLayout::part_name_on_stack(u64::from(batch), kind) == *name).then_some(batch)
    }

    /// No names, of `kind`.
    pub fn new(kind: FileKind) -> Self {
        PartNames {
            kind: Some(kind),
            ..PartNames::default()
        }
    }

    /// Names given as strings; the kind of each is decided by its suffix.
    ///
    /// # Panics
    ///
    /// When a name is not a part name or the kinds differ.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut parts = PartNames::default();
        for name in names {
            parts.push(name.as_ref());
        }
        parts
    }

    /// The kind of the parts, if any was pushed or given.
    pub fn kind(&self) -> Option<FileKind> {
        self.kind
    }

    /// Makes room for `additional` more batches, exactly: a group may name
    /// tens of thousands of parts, and doubling would leave up to half unused.
    pub fn reserve(&mut self, additional: usize) {
        self.batches.reserve_exact(additional);
    }

    /// Adds the part of batch `batch`.
    pub fn push_batch(&mut self, batch: u32) {
        self.batches.push(batch);
    }

    /// Adds a part by name (its kind decided by its suffix).
    ///
    /// # Panics
    ///
    /// When `name` is not a part name, or is of another kind than the others.
    pub fn push(&mut self, name: &str) {
        self.try_push(name)
            .unwrap_or_else(|problem| panic!("{problem}"));
    }

    /// [`push`](Self::push), saying what is wrong instead of panicking.
    fn try_push(&mut self, name: &str) -> Result<(), String> {
        let kind = FileKind::of_part(name).ok_or_else(|| format!("{name:?} is not a part name"))?;
        if *self.kind.get_or_insert(kind) != kind {
            return Err(format!(
                "{name:?} is not of the kind of the parts before it"
            ));
        }
        match Self::batch_of(name, kind) {
            Some(batch) => self.batches.push(batch),
            None => self.others.push(name.into()),
        }
        Ok(())
    }

    /// Adds a part known not to have the compact form.
    pub(crate) fn push_other(&mut self, name: Box<str>) {
        self.others.push(name);
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.batches.len() + self.others.len()
    }

    /// No parts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Name of part `index` (batches first, then the others).
    ///
    /// # Panics
    ///
    /// When `index >= self.len()`.
    pub fn name(&self, index: usize) -> Cow<'_, str> {
        match self.batches.get(index) {
            Some(&batch) => Cow::Owned(JobLayout::part_name(
                u64::from(batch),
                self.kind.expect("a kind once batches are pushed"),
            )),
            None => Cow::Borrowed(&self.others[index - self.batches.len()]),
        }
    }

    /// Calls `f` with the name of part `index`, made on the stack.
    ///
    /// The threads that delete a claim's parts name them this way and
    /// allocate nothing (see `combine::remove_parts`).
    ///
    /// # Panics
    ///
    /// When `index >= self.len()`.
    pub(crate) fn with_name<R>(&self, index: usize, f: impl FnOnce(&str) -> R) -> R {
        match self.batches.get(index) {
            Some(&batch) => f(&JobLayout::part_name_on_stack(
                u64::from(batch),
                self.kind.expect("a kind once batches are pushed"),
            )),
            None => f(&self.others[index - self.batches.len()]),
        }
    }

    /// Every name, batches first.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        (0..self.len()).map(|i| self.name(i))
    }
}

/// A sequence of names, as in the journal.
impl Serialize for PartNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// From a sequence of part names; an entry that is not a part name, or of
/// another kind than the first, is an error.
impl<'de> Deserialize<'de> for PartNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = PartNames;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of part names of one kind")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PartNames, A::Error> {
                let mut parts = PartNames::default();
                while let Some(name) = seq.next_element::<Cow<'de, str>>()? {
                    parts.try_push(&name).map_err(serde::de::Error::custom)?;
                }
                Ok(parts)
            }
        }
        deserializer.deserialize_seq(Names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_names_are_kept_as_batches_others_whole() {
        let names = [
            "tmp_000007.ndjson",
            "tmp_7.ndjson",
            "tmp_abc.ndjson",
            "tmp_1234567.ndjson",
            "tmp_99999999999.ndjson",
        ];
        let parts = PartNames::from_names(names);
        assert_eq!(parts.kind(), Some(FileKind::Data));
        assert_eq!(parts.batches, [7, 1_234_567]);
        assert_eq!(parts.others.len(), 3);
        let mut back: Vec<String> = parts.iter().map(Cow::into_owned).collect();
        back.sort();
        let mut expected = names.map(String::from).to_vec();
        expected.sort();
        assert_eq!(back, expected);
    }

    #[test]
    fn error_parts_keep_their_kind() {
        let parts = PartNames::from_names(["tmp_000003_error.ndjson"]);
        assert_eq!(parts.kind(), Some(FileKind::Error));
        assert_eq!(parts.batches, [3]);
        assert_eq!(parts.name(0), "tmp_000003_error.ndjson");
    }

    #[test]
    fn journal_form_is_a_list_of_names() {
        let parts = PartNames::from_names(["tmp_000001.ndjson", "tmp_x.ndjson"]);
        let json = serde_json::to_string(&parts).unwrap();
        assert_eq!(json, r#"["tmp_000001.ndjson","tmp_x.ndjson"]"#);
        assert_eq!(serde_json::from_str::<PartNames>(&json).unwrap(), parts);
    }

    #[test]
    fn bad_journal_lists_are_errors_naming_the_entry() {
        let mixed =
            serde_json::from_str::<PartNames>(r#"["tmp_000001.ndjson","tmp_000001_error.ndjson"]"#)
                .unwrap_err()
                .to_string();
        assert!(mixed.contains("tmp_000001_error.ndjson"), "{mixed}");
        let stray = serde_json::from_str::<PartNames>(r#"["notes.txt"]"#)
            .unwrap_err()
            .to_string();
        assert!(stray.contains("notes.txt"), "{stray}");
    }
}
