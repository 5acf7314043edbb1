//! [`JobLock`]: one owner per job directory.
//!
//! The owner holds an exclusive OS file lock (`flock`) on `<job_dir>/.lock` for
//! the whole job. The kernel releases it when the owner's file is closed or the
//! process dies — also on `kill -9` — so a crashed job can be resumed at once,
//! while a second process (or a second supervisor in the same process) is
//! refused for as long as the first runs.
//!
//! The lock file also records the parameters that decide which beneficiaries
//! make which batch ([`JobMeta`]), so that a resume with a different batch size,
//! which would mix up done and pending batches, is refused; and whether the
//! parts in `finished/` can be trusted after a crash (see [`crate::store::part`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::report::JobOutput;

/// Name of the lock file inside the job directory.
pub const LOCK_NAME: &str = ".lock";

/// Longest lock file read: a job's record and the list of its outputs (a few
/// hundred bytes each; tens of thousands of outputs fit).
const MAX_META_BYTES: u64 = 64 << 20;

/// What a job's batches depend on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMeta {
    /// The job id.
    pub job_id: String,
    /// The contract.
    pub contract: String,
    /// Beneficiaries per batch.
    pub batch_size: usize,
    /// The boot of the machine whose process owns the job ([`boot_id`]).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Whether every part in `finished/` was fsynced before it moved there
    /// (false once an owner did not, until a recovery discards its parts).
    /// Lock files without this field were written by versions that always did.
    #[serde(default = "always")]
    pub sync_parts: bool,
    /// The outputs of the job once it completed (its journal is then removed):
    /// what a later resume verifies the outputs against. `None` until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Vec<JobOutput>>,
}

fn always() -> bool {
    true
}

impl JobMeta {
    /// Whether the parts this owner left in `finished/` are whole, as seen by
    /// a process running now: they were fsynced, or this machine has not
    /// restarted since (a process that dies leaves its writes in the page
    /// cache; only a restart loses them).
    pub fn parts_survive(&self) -> bool {
        self.sync_parts || (self.boot_id.is_some() && self.boot_id.as_deref() == boot_id())
    }
}

/// This boot of the machine (Linux: `/proc/sys/kernel/random/boot_id`), read
/// once; `None` where the system does not say.
pub fn boot_id() -> Option<&'static str> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
            Some(id.trim().to_owned()).filter(|id| !id.is_empty())
        })
        .as_deref()
}

/// An exclusive lock on a job directory, held until dropped.
#[derive(Debug)]
pub struct JobLock {
    file: File,
    path: PathBuf,
}

impl JobLock {
    /// Locks `job_dir`, creating its lock file; refuses when another owner holds it.
    pub fn acquire(job_dir: &Path) -> Result<JobLock> {
        let path = job_dir.join(LOCK_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at("open lock", &path)?;
        match file.try_lock() {
            Ok(()) => Ok(JobLock { file, path }),
            Err(TryLockError::WouldBlock) => Err(Error::JobDirectory {
                path: job_dir.to_owned(),
                reason: "is in use by another running job (its lock file is held)".into(),
            }),
            Err(TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
        }
    }

    /// The parameters recorded by the job that created the directory, if any.
    pub fn meta(&self) -> Result<Option<JobMeta>> {
        let mut text = String::new();
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).at("read lock", &self.path)?;
        // The lock file is ours, but bounded all the same: a job's record is small.
        file.take(MAX_META_BYTES)
            .read_to_string(&mut text)
            .at("read lock", &self.path)?;
        Ok(serde_json::from_str(&text).ok())
    }

    /// Records `meta` durably.
    pub fn write_meta(&self, meta: &JobMeta) -> Result<()> {
        let text = serde_json::to_vec(meta).expect("job meta always serialises");
        let mut file = &self.file;
        file.set_len(0).at("write lock", &self.path)?;
        file.seek(SeekFrom::Start(0)).at("write lock", &self.path)?;
        file.write_all(&text).at("write lock", &self.path)?;
        file.sync_data().at("fsync lock", &self.path)
    }

    /// Records that the job completed with `outputs` (see [`JobMeta::completed`]).
    pub fn seal(&self, outputs: &[JobOutput]) -> Result<()> {
        let Some(meta) = self.meta()? else {
            return Err(Error::JobDirectory {
                path: self.path.clone(),
                reason: "holds no job record to complete".into(),
            });
        };
        // Rewritten only when it changes: a rewrite is a moment without a record.
        if meta.completed.as_deref() == Some(outputs) {
            return Ok(());
        }
        self.write_meta(&JobMeta {
            completed: Some(outputs.to_vec()),
            ..meta
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let first = JobLock::acquire(dir.path()).unwrap();
        let err = JobLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("in use by another running job"), "{err}");
        assert_eq!(first.meta().unwrap(), None);
        let meta = JobMeta {
            job_id: "J".into(),
            contract: "Z9000".into(),
            batch_size: 10,
            boot_id: boot_id().map(str::to_owned),
            sync_parts: false,
            completed: None,
        };
        first.write_meta(&meta).unwrap();
        drop(first);
        let second = JobLock::acquire(dir.path()).unwrap();
        assert_eq!(second.meta().unwrap(), Some(meta));
    }

    #[test]
    fn unsynced_parts_survive_only_on_the_same_boot() {
        let meta = |boot: Option<&str>, sync_parts| JobMeta {
            job_id: "J".into(),
            contract: "Z9000".into(),
            batch_size: 10,
            boot_id: boot.map(str::to_owned),
            sync_parts,
            completed: None,
        };
        if boot_id().is_some() {
            assert!(meta(boot_id(), false).parts_survive());
        }
        assert!(!meta(Some("another-boot"), false).parts_survive());
        assert!(!meta(None, false).parts_survive());
        assert!(meta(Some("another-boot"), true).parts_survive());
        // A lock file of an older version: parts were always synced.
        let old: JobMeta =
            serde_json::from_str(r#"{"job_id":"J","contract":"Z9000","batch_size":10}"#).unwrap();
        assert!(old.parts_survive());
    }
}
