//! [`JobLayout`]: every path and file name of the on-disk protocol in one place.
//!
//! ```text
//! <root>/<job_id>/                          final outputs only
//! <root>/<job_id>/streaming/tmp_000001.ndjson        parts being written
//! <root>/<job_id>/finished/tmp_000001_error.ndjson   complete parts waiting
//! <root>/<job_id>/finished/.claim-data-0001/         parts claimed by output 0001
//! <root>/<job_id>/.Z9000_0001.ndjson.tmp             output being combined
//! <root>/<job_id>/.journal                           what each output consumed
//! <root>/<job_id>/Z9000_0001.ndjson                  data output, from 0001
//! <root>/<job_id>/Z9000_0001_error.ndjson            error output, own numbering
//! ```
//!
//! Part names carry their batch number so that a resumed run finds done batches
//! again from file names alone; parts written by other processes may have any
//! name of the form `tmp_….ndjson`, and are aggregated all the same.

use std::fmt::{self, Write};
use std::path::{Path, PathBuf};

use arrayvec::ArrayString;
use serde::{Deserialize, Serialize};

/// Prefix of every part file.
pub const PART_PREFIX: &str = "tmp_";
/// Suffix of data files (parts and outputs).
pub const DATA_SUFFIX: &str = ".ndjson";
/// Suffix of error files (parts and outputs); checked before [`DATA_SUFFIX`].
pub const ERROR_SUFFIX: &str = "_error.ndjson";
/// Longest name [`JobLayout::part_name`] makes: the prefix, 20 digits, the
/// error suffix.
const PART_NAME_MAX: usize = PART_PREFIX.len() + 20 + ERROR_SUFFIX.len();
/// Prefix of a claim directory inside `finished/`.
pub const CLAIM_PREFIX: &str = ".claim-";
/// Name of the job journal inside the job directory.
pub const JOURNAL_NAME: &str = ".journal";
/// Suffix of an output being combined (the name also starts with a dot).
pub const TEMP_SUFFIX: &str = ".tmp";
/// Suffix added to gzipped outputs (`Z9000_0001.ndjson.gz`).
pub const GZIP_SUFFIX: &str = ".gz";

/// What a file holds: claims, or `OperationOutcome`s of failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// ExplanationOfBenefit resources.
    Data,
    /// OperationOutcome resources.
    Error,
}

impl FileKind {
    /// Both kinds, data first.
    pub const ALL: [FileKind; 2] = [FileKind::Data, FileKind::Error];

    /// The kind of a file, decided by its suffix as AB2D does: `_error.ndjson`
    /// first, then `.ndjson`. `None` for anything else.
    pub fn of_name(name: &str) -> Option<FileKind> {
        if name.ends_with(ERROR_SUFFIX) {
            Some(FileKind::Error)
        } else if name.ends_with(DATA_SUFFIX) {
            Some(FileKind::Data)
        } else {
            None
        }
    }

    /// The kind of a part file: a name starting `tmp_` with a known suffix.
    pub fn of_part(name: &str) -> Option<FileKind> {
        if name.starts_with(PART_PREFIX) {
            FileKind::of_name(name)
        } else {
            None
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            FileKind::Data => DATA_SUFFIX,
            FileKind::Error => ERROR_SUFFIX,
        }
    }

    /// `data` or `error`, as in reports and claim directory names.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Data => "data",
            FileKind::Error => "error",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Paths of one job directory. Cheap to clone; holds no open files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLayout {
    job_dir: PathBuf,
    streaming: PathBuf,
    finished: PathBuf,
    contract: String,
    gzip: bool,
    sync_parts: bool,
}

impl JobLayout {
    /// The layout of `job_dir` with the given sub-directory names and contract.
    /// Names are trusted here; [`crate::JobConfig`] validates them.
    pub fn new(job_dir: PathBuf, streaming_dir: &str, finished_dir: &str, contract: &str) -> Self {
        JobLayout {
            streaming: job_dir.join(streaming_dir),
            finished: job_dir.join(finished_dir),
            job_dir,
            contract: contract.to_owned(),
            gzip: false,
            sync_parts: true,
        }
    }

    /// The same layout with gzipped outputs (`.ndjson.gz`) when `gzip`.
    pub fn with_gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Whether outputs are gzipped.
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The same layout with parts fsynced before they move to `finished/`
    /// (the default) or not (see `store/part.rs`).
    pub fn with_sync_parts(mut self, sync_parts: bool) -> Self {
        self.sync_parts = sync_parts;
        self
    }

    /// Whether parts are fsynced before they move to `finished/`.
    pub fn sync_parts(&self) -> bool {
        self.sync_parts
    }

    /// The job directory: final outputs only.
    pub fn job_dir(&self) -> &Path {
        &self.job_dir
    }
    /// The job id (the job directory's name), for log lines: jobs of one
    /// process log side by side.
    pub fn job_id(&self) -> &str {
        self.job_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
    }
    /// Directory of parts being written.
    pub fn streaming(&self) -> &Path {
        &self.streaming
    }
    /// Directory of complete parts waiting for aggregation.
    pub fn finished(&self) -> &Path {
        &self.finished
    }
    /// The contract, prefix of output names.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// `tmp_000042.ndjson` or `tmp_000042_error.ndjson`.
    pub fn part_name(batch: u64, kind: FileKind) -> String {
        Self::part_name_on_stack(batch, kind).to_string()
    }

    /// [`part_name`](Self::part_name), made without allocating.
    pub(crate) fn part_name_on_stack(batch: u64, kind: FileKind) -> ArrayString<PART_NAME_MAX> {
        let mut name = ArrayString::new();
        write!(name, "{PART_PREFIX}{batch:06}{}", kind.suffix())
            .expect("a part name fits PART_NAME_MAX");
        name
    }

    /// The batch number in a part name written by this crate.
    pub fn batch_of_part(name: &str) -> Option<u64> {
        let kind = FileKind::of_part(name)?;
        let digits = name
            .strip_prefix(PART_PREFIX)?
            .strip_suffix(kind.suffix())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Where batch `batch` writes its part of `kind`.
    pub fn streaming_part(&self, batch: u64, kind: FileKind) -> PathBuf {
        self.streaming.join(&*Self::part_name_on_stack(batch, kind))
    }
    /// Where that part goes once complete.
    pub fn finished_part(&self, batch: u64, kind: FileKind) -> PathBuf {
        self.finished.join(&*Self::part_name_on_stack(batch, kind))
    }

    /// `Z9000_0001.ndjson` or `Z9000_0001_error.ndjson` (four digits at least),
    /// with `.gz` added when outputs are gzipped.
    pub fn output_name(&self, kind: FileKind, number: u32) -> String {
        let gz = if self.gzip { GZIP_SUFFIX } else { "" };
        format!("{}_{number:04}{}{gz}", self.contract, kind.suffix())
    }
    /// The kind and number of an output name of this contract, gzipped or not.
    pub fn parse_output_name(&self, name: &str) -> Option<(FileKind, u32)> {
        let name = name.strip_suffix(GZIP_SUFFIX).unwrap_or(name);
        let kind = FileKind::of_name(name)?;
        let digits = name
            .strip_prefix(self.contract.as_str())?
            .strip_prefix('_')?
            .strip_suffix(kind.suffix())?;
        if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|&n| n > 0).map(|n| (kind, n))
    }
    /// Final path of output `number` of `kind`.
    pub fn output(&self, kind: FileKind, number: u32) -> PathBuf {
        self.job_dir.join(self.output_name(kind, number))
    }
    /// Hidden temp file that output `number` is combined into.
    pub fn temp_output(&self, kind: FileKind, number: u32) -> PathBuf {
        self.job_dir
            .join(format!(".{}{TEMP_SUFFIX}", self.output_name(kind, number)))
    }
    /// Claim directory holding the parts that output `number` consumes.
    pub fn claim_dir(&self, kind: FileKind, number: u32) -> PathBuf {
        self.finished
            .join(format!("{CLAIM_PREFIX}{}-{number:04}", kind.as_str()))
    }
    /// The append-only job journal.
    pub fn journal(&self) -> PathBuf {
        self.job_dir.join(JOURNAL_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> JobLayout {
        JobLayout::new(
            PathBuf::from("/r/ABC-DEF"),
            "streaming",
            "finished",
            "Z9000",
        )
    }

    #[test]
    fn kind_is_decided_by_suffix_error_first() {
        assert_eq!(
            FileKind::of_name("tmp_1_error.ndjson"),
            Some(FileKind::Error)
        );
        assert_eq!(FileKind::of_name("tmp_1.ndjson"), Some(FileKind::Data));
        assert_eq!(FileKind::of_name("tmp_1.json"), None);
        assert_eq!(FileKind::of_part("Z9000_0001.ndjson"), None);
        assert_eq!(FileKind::of_part("tmp_x.ndjson"), Some(FileKind::Data));
    }

    #[test]
    fn part_names_carry_the_batch() {
        assert_eq!(
            JobLayout::part_name(42, FileKind::Data),
            "tmp_000042.ndjson"
        );
        assert_eq!(
            JobLayout::part_name(42, FileKind::Error),
            "tmp_000042_error.ndjson"
        );
        assert_eq!(
            JobLayout::batch_of_part("tmp_000042_error.ndjson"),
            Some(42)
        );
        assert_eq!(
            JobLayout::batch_of_part("tmp_1234567.ndjson"),
            Some(1234567)
        );
        assert_eq!(JobLayout::batch_of_part("tmp_abc.ndjson"), None);
        assert_eq!(JobLayout::batch_of_part("tmp_.ndjson"), None);
        let l = layout();
        assert_eq!(
            l.streaming_part(7, FileKind::Data),
            PathBuf::from("/r/ABC-DEF/streaming/tmp_000007.ndjson")
        );
        assert_eq!(
            l.finished_part(7, FileKind::Error),
            PathBuf::from("/r/ABC-DEF/finished/tmp_000007_error.ndjson")
        );
    }

    #[test]
    fn outputs_are_numbered_per_kind_from_0001() {
        let l = layout();
        assert_eq!(l.output_name(FileKind::Data, 1), "Z9000_0001.ndjson");
        assert_eq!(
            l.output_name(FileKind::Error, 12),
            "Z9000_0012_error.ndjson"
        );
        assert_eq!(l.output_name(FileKind::Data, 12345), "Z9000_12345.ndjson");
        assert_eq!(
            l.parse_output_name("Z9000_0012_error.ndjson"),
            Some((FileKind::Error, 12))
        );
        assert_eq!(
            l.parse_output_name("Z9000_12345.ndjson"),
            Some((FileKind::Data, 12345))
        );
        assert_eq!(l.parse_output_name("Z9000_12.ndjson"), None);
        assert_eq!(l.parse_output_name("Z9001_0001.ndjson"), None);
        assert_eq!(l.parse_output_name("Z9000_0000.ndjson"), None);
        assert_eq!(
            l.parse_output_name("Z9000_0007_error.ndjson.gz"),
            Some((FileKind::Error, 7))
        );
        let gz = l.clone().with_gzip(true);
        assert_eq!(gz.output_name(FileKind::Data, 2), "Z9000_0002.ndjson.gz");
        assert_eq!(
            gz.output_name(FileKind::Error, 2),
            "Z9000_0002_error.ndjson.gz"
        );
        assert_eq!(
            l.temp_output(FileKind::Data, 3),
            PathBuf::from("/r/ABC-DEF/.Z9000_0003.ndjson.tmp")
        );
        assert_eq!(
            l.claim_dir(FileKind::Error, 3),
            PathBuf::from("/r/ABC-DEF/finished/.claim-error-0003")
        );
    }
}
