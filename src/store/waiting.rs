//! [`WaitingParts`]: the parts of one kind waiting in `finished/`, and the
//! groups taken from them for outputs.
//!
//! The aggregator learns of parts from messages (and from scans of `finished/`)
//! and must never rescan the directory per message, so it keeps every waiting
//! part in memory. Tens of thousands wait at once in a large job (the trigger is
//! `multiplier × max_bytes`, 400 MiB by default, of parts that may be 7.5 KB),
//! so a part costs eight bytes here when this crate named it and it is under
//! 4 GiB (batch number and size, as `u32`), and one bit to tell that it is
//! already known, which keeps a part announced twice (a message and a scan)
//! from being counted twice. A part stays
//! known after it is taken: a scan may list a part whose message is still in
//! the mailbox, and that message may come after an output took the part. Parts
//! named otherwise (by another writer sharing the job directory) are kept by
//! name.

use std::collections::HashSet;

use crate::select::{self, remove_sorted};
use crate::store::layout::{FileKind, JobLayout};
use crate::store::part_names::PartNames;

/// Batch numbers from this one on are kept by name: the bit set that tells
/// known batches takes a bit for every batch number below the highest, so it
/// is bounded (8 MiB at most) against a stray part named with a huge number.
const COMPACT_BATCHES: u32 = 1 << 26;

/// A part this crate named, under 4 GiB: its size and batch number. Selections
/// sort these in place (see [`select::select_in_place`]): equal sizes go by
/// batch number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CompactPart {
    bytes: u32,
    batch: u32,
}

impl From<CompactPart> for u64 {
    fn from(part: CompactPart) -> u64 {
        part.bytes.into()
    }
}

impl select::Size for CompactPart {}

/// The waiting parts of one kind.
#[derive(Debug)]
pub struct WaitingParts {
    kind: FileKind,
    /// The parts this crate named, under 4 GiB.
    compact: Vec<CompactPart>,
    /// Bit `b` set: the part of batch `b` is waiting or was taken.
    known_batches: Vec<u64>,
    /// The other parts, by name, and (same index) their sizes.
    others: Vec<Box<str>>,
    other_bytes: Vec<u64>,
    known_others: HashSet<Box<str>>,
    bytes: u64,
}

impl WaitingParts {
    /// No parts waiting.
    pub fn new(kind: FileKind) -> Self {
        WaitingParts {
            kind,
            compact: Vec::new(),
            known_batches: Vec::new(),
            others: Vec::new(),
            other_bytes: Vec::new(),
            known_others: HashSet::new(),
            bytes: 0,
        }
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Parts waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.compact.len() + self.others.len()
    }

    /// Nothing waits.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the part `name` of `bytes` bytes, unless it is already waiting or
    /// was taken. Returns whether it was added.
    pub fn adopt(&mut self, name: &str, bytes: u64) -> bool {
        match PartNames::batch_of(name, self.kind) {
            Some(batch) => self.adopt_batch(batch.into(), bytes),
            None => self.adopt_other(name, bytes),
        }
    }

    /// [`adopt`](Self::adopt) for the part of `batch`, named
    /// [`JobLayout::part_name`]: what a message tells, with no name to read.
    pub fn adopt_batch(&mut self, batch: u64, bytes: u64) -> bool {
        let compact = u32::try_from(batch)
            .ok()
            .filter(|&b| b < COMPACT_BATCHES)
            .zip(u32::try_from(bytes).ok());
        let Some((batch, compact_bytes)) = compact else {
            return self.adopt_other(&JobLayout::part_name_on_stack(batch, self.kind), bytes);
        };
        let (word, bit) = (batch as usize / 64, 1u64 << (batch % 64));
        if word >= self.known_batches.len() {
            self.known_batches.resize(word + 1, 0);
        }
        if self.known_batches[word] & bit != 0 {
            return false;
        }
        self.known_batches[word] |= bit;
        self.compact.push(CompactPart {
            bytes: compact_bytes,
            batch,
        });
        self.bytes += bytes;
        true
    }

    /// Adds a part kept by name.
    fn adopt_other(&mut self, name: &str, bytes: u64) -> bool {
        if !self.known_others.insert(name.into()) {
            return false;
        }
        self.others.push(name.into());
        self.other_bytes.push(bytes);
        self.bytes += bytes;
        true
    }

    /// Takes the parts of the next output (see [`select::select`]) and their bytes.
    pub fn take_selection(&mut self, max_bytes: u64) -> (PartNames, u64) {
        if !self.others.is_empty() {
            let picked = select::select(&self.all_sizes(), max_bytes);
            return self.take(picked);
        }
        let picked = select::select_in_place(&mut self.compact, max_bytes);
        let first = self.compact.len() - picked;
        let group = self.group(first as u32..self.compact.len() as u32);
        self.compact.truncate(first);
        // The trigger lets the waiting parts grow to twice an output, and
        // the step about to run maps its buffer: give back the half just
        // taken first (a large vector is mapped: its tail is unmapped).
        self.compact.shrink_to_fit();
        self.bytes -= group.1;
        group
    }

    /// Takes every part, packed into outputs (see [`select::plan_all`]).
    pub fn take_all(&mut self, max_bytes: u64) -> Vec<(PartNames, u64)> {
        let groups = if self.others.is_empty() {
            let outputs = select::plan_in_place(&mut self.compact, max_bytes);
            select::output_ranges(self.compact.len(), &outputs)
                .map(|range| self.group(range.start as u32..range.end as u32))
                .collect()
        } else {
            let plan = select::plan_all(&self.all_sizes(), max_bytes);
            plan.iter()
                .map(|picked| self.group(picked.iter().copied()))
                .collect()
        };
        self.compact = Vec::new();
        self.others = Vec::new();
        self.other_bytes = Vec::new();
        self.bytes = 0;
        groups
    }

    /// Sizes of every part, compact ones first: the index space of
    /// selections when some parts are not compact.
    fn all_sizes(&self) -> Vec<u64> {
        let compact = self.compact.iter().map(|&part| u64::from(part));
        compact.chain(self.other_bytes.iter().copied()).collect()
    }

    /// The parts at `picked` (indices in the index space of
    /// [`all_sizes`](Self::all_sizes)), in that order, and their bytes.
    fn group(&self, picked: impl ExactSizeIterator<Item = u32>) -> (PartNames, u64) {
        let mut names = PartNames::new(self.kind);
        names.reserve(picked.len());
        let mut bytes = 0;
        for index in picked {
            let index = index as usize;
            match self.compact.get(index) {
                Some(part) => {
                    names.push_batch(part.batch);
                    bytes += u64::from(part.bytes);
                }
                None => {
                    let other = index - self.compact.len();
                    names.push_other(self.others[other].clone());
                    bytes += self.other_bytes[other];
                }
            }
        }
        (names, bytes)
    }

    /// Takes the parts at `picked` (indices in the index space of
    /// [`all_sizes`](Self::all_sizes)).
    fn take(&mut self, mut picked: Vec<u32>) -> (PartNames, u64) {
        let group = self.group(picked.iter().copied());
        picked.sort_unstable();
        let compact = picked.partition_point(|&i| (i as usize) < self.compact.len());
        let (compact, others) = picked.split_at_mut(compact);
        let first_other = self.compact.len() as u32;
        others.iter_mut().for_each(|i| *i -= first_other);
        remove_sorted(&mut self.compact, compact);
        remove_sorted(&mut self.others, others);
        remove_sorted(&mut self.other_bytes, others);
        self.bytes -= group.1;
        group
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::alloc_count;

    fn names(group: &PartNames) -> Vec<String> {
        let mut names: Vec<String> = group.iter().map(Cow::into_owned).collect();
        names.sort();
        names
    }

    #[test]
    fn a_part_announced_twice_waits_once() {
        let mut waiting = WaitingParts::new(FileKind::Data);
        assert!(waiting.adopt("tmp_000001.ndjson", 10));
        assert!(!waiting.adopt("tmp_000001.ndjson", 10));
        assert!(!waiting.adopt_batch(1, 10), "the same part, by its batch");
        assert!(waiting.adopt("tmp_other.ndjson", 5));
        assert!(!waiting.adopt("tmp_other.ndjson", 5));
        assert_eq!((waiting.len(), waiting.bytes()), (2, 15));
    }

    #[test]
    fn selections_take_their_parts_and_keep_the_rest() {
        let mut waiting = WaitingParts::new(FileKind::Data);
        for (name, bytes) in [
            ("tmp_000001.ndjson", 60),
            ("tmp_000002.ndjson", 50),
            ("tmp_b.ndjson", 40),
            ("tmp_000004.ndjson", 30),
        ] {
            waiting.adopt(name, bytes);
        }
        let (group, bytes) = waiting.take_selection(100);
        assert_eq!(bytes, 100);
        assert_eq!(names(&group), ["tmp_000001.ndjson", "tmp_b.ndjson"]);
        assert_eq!((waiting.len(), waiting.bytes()), (2, 80));
        // A taken part is not adopted again: its message may come after a
        // scan listed it and an output took it.
        assert!(!waiting.adopt("tmp_000001.ndjson", 60));
        assert!(!waiting.adopt("tmp_b.ndjson", 40));
        assert!(!waiting.adopt("tmp_000002.ndjson", 50));
        assert!(waiting.adopt("tmp_000005.ndjson", 1));

        let groups = waiting.take_all(100);
        assert!(!waiting.adopt("tmp_000005.ndjson", 1));
        assert_eq!(groups.iter().map(|g| g.1).sum::<u64>(), 81);
        let mut all: Vec<String> = groups.iter().flat_map(|g| names(&g.0)).collect();
        all.sort();
        assert_eq!(
            all,
            [
                "tmp_000002.ndjson",
                "tmp_000004.ndjson",
                "tmp_000005.ndjson"
            ]
        );
        assert!(waiting.is_empty());
        assert_eq!(waiting.bytes(), 0);
    }

    /// 50,000 parts of about 7.5 KB waiting, as in a large job.
    fn many_waiting() -> WaitingParts {
        let mut waiting = WaitingParts::new(FileKind::Data);
        for batch in 0..50_000u64 {
            let name = JobLayout::part_name(batch, FileKind::Data);
            assert!(waiting.adopt(&name, 7_000 + (batch * 7_919) % 1_000));
        }
        waiting
    }

    /// What a selection may allocate beside the names it returns, four
    /// bytes a part: the search's bounded scratch, never a word per part.
    const SCRATCH: usize = 64 * 1024;

    #[test]
    fn a_selection_allocates_little_beside_the_names_it_takes() {
        let mut waiting = many_waiting();
        let max = 200 << 20;
        let ((group, bytes), usage) = alloc_count::measure(|| waiting.take_selection(max));
        assert!(bytes > max - 8_000 && bytes <= max, "{bytes}");
        assert_eq!(waiting.len(), 50_000 - group.len());
        assert_eq!(
            waiting.compact.capacity(),
            waiting.len(),
            "the room of the parts taken is given back"
        );
        assert!(
            usage.peak_bytes <= 4 * group.len() + SCRATCH,
            "{} bytes at most for {} parts",
            usage.peak_bytes,
            group.len()
        );
    }

    #[test]
    fn packing_everything_allocates_little_beside_the_names() {
        let mut waiting = many_waiting();
        let (groups, usage) = alloc_count::measure(|| waiting.take_all(200 << 20));
        assert_eq!(groups.iter().map(|g| g.0.len()).sum::<usize>(), 50_000);
        assert!(
            usage.peak_bytes <= 4 * 50_000 + SCRATCH,
            "{} bytes at most",
            usage.peak_bytes
        );
    }

    #[test]
    fn parts_of_4_gib_or_more_are_kept_by_name() {
        let mut waiting = WaitingParts::new(FileKind::Data);
        let huge = u64::from(u32::MAX) + 1;
        assert!(waiting.adopt("tmp_000001.ndjson", huge));
        assert!(!waiting.adopt("tmp_000001.ndjson", huge));
        assert!(waiting.adopt("tmp_000002.ndjson", 5));
        assert_eq!((waiting.compact.len(), waiting.others.len()), (1, 1));
        assert_eq!(waiting.bytes(), huge + 5);
        // Larger than the cap, it makes an output alone, at its full size.
        let (group, bytes) = waiting.take_selection(1 << 30);
        assert_eq!(
            (names(&group), bytes),
            (vec!["tmp_000001.ndjson".to_owned()], huge)
        );
        let groups = waiting.take_all(1 << 30);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].1, 5);
    }

    #[test]
    fn huge_batch_numbers_are_kept_by_name() {
        let mut waiting = WaitingParts::new(FileKind::Error);
        assert!(waiting.adopt("tmp_4000000000_error.ndjson", 3));
        assert!(waiting.known_batches.is_empty());
        let (group, bytes) = waiting.take_selection(10);
        assert_eq!(bytes, 3);
        assert_eq!(names(&group), ["tmp_4000000000_error.ndjson"]);
    }
}
