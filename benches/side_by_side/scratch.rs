//! The scratch root of a run, marked `chattr +T`, and fresh directories below it.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::procfs::filesystem_of;

/// Scratch location override.
const SCRATCH_ENV: &str = "SIDE_BY_SIDE_DIR";

/// The scratch root: every file of the run lives below it and goes with it.
pub struct Scratch {
    pub root: PathBuf,
    pub note: String,
    _dir: tempfile::TempDir,
    next: std::cell::Cell<u32>,
}

impl Scratch {
    pub fn new() -> Self {
        let base = std::env::var_os(SCRATCH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("side_by_side.")
            .tempdir_in(&base)
            .expect("create the scratch directory");
        let root = dir.path().to_owned();
        let topdir = Command::new("chattr")
            .arg("+T")
            .arg(&root)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let note = format!(
            "{}, chattr +T {}",
            filesystem_of(&root),
            if topdir { "set" } else { "not available" }
        );
        Scratch {
            root,
            note,
            _dir: dir,
            next: std::cell::Cell::new(0),
        }
    }

    /// A new, empty directory (a job root).
    pub fn fresh(&self, what: &str) -> PathBuf {
        let n = self.next.get();
        self.next.set(n + 1);
        let path = self.root.join(format!("{what}-{n}"));
        fs::create_dir(&path).expect("create a scratch directory");
        path
    }
}
