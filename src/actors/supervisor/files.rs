//! The supervisor's own file work, blocking: run on a blocking thread that
//! holds the job's lock (see `spawn_holding`).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::fault::fault_point;
use crate::report::JobOutput;
use crate::store::journal;
use crate::store::layout::{JobLayout, TEMP_SUFFIX};
use crate::store::lock::JobLock;
use crate::store::recovery;

/// Removes `streaming/`: the writers are done. Blocking.
pub(crate) fn remove_streaming(layout: &JobLayout) -> Result<()> {
    let streaming = layout.streaming();
    remove_dir_all_if_exists(streaming)?;
    fault_point!("supervisor::streaming-removed", streaming);
    Ok(())
}

fn remove_dir_all_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Removes `streaming/`, `finished/` (claims included) and temp outputs: what a
/// cancelled job leaves. `streaming/` goes first, so that no fetcher can move a
/// part into `finished/` after it is gone. Blocking.
pub(crate) fn remove_working_files(layout: &JobLayout) -> Result<()> {
    for dir in [layout.streaming(), layout.finished()] {
        // A fetcher's last rename may race the first attempt.
        let mut attempts = 3;
        while let Err(e) = remove_dir_all_if_exists(dir) {
            attempts -= 1;
            if attempts == 0 {
                return Err(e);
            }
        }
    }
    for entry in fs::read_dir(layout.job_dir()).at("list", layout.job_dir())? {
        let entry = entry.at("list", layout.job_dir())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }
    Ok(())
}

/// The job's outputs from the journal (data first, by number) and the stray
/// files left in `finished/`. A completed job (`completed` holds its lock)
/// records its outputs in its lock file and removes its journal: its directory
/// then holds the outputs only. Blocking.
pub(crate) fn list_outputs(
    layout: &JobLayout,
    completed: Option<&JobLock>,
) -> Result<(Vec<JobOutput>, Vec<String>)> {
    let sealed = match completed {
        Some(lock) => lock.meta()?.and_then(|meta| meta.completed),
        None => None,
    };
    let outputs = if layout.journal().exists() {
        journal::outputs(layout)?
    } else if let Some(sealed) = sealed {
        sealed
    } else {
        recovery::existing_outputs(layout)?
    };
    let mut strays = Vec::new();
    if let Ok(entries) = fs::read_dir(layout.finished()) {
        for entry in entries.flatten() {
            strays.push(entry.file_name().to_string_lossy().into_owned());
        }
        strays.sort();
    }
    if let Some(lock) = completed {
        lock.seal(&outputs)?;
        journal::remove(layout)?;
    }
    Ok((outputs, strays))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::FileKind;

    /// A job directory with its `streaming/` and `finished/`.
    fn job(root: &Path) -> JobLayout {
        let l = JobLayout::new(root.join("J"), "streaming", "finished", "Z9000");
        for dir in [l.job_dir(), l.streaming(), l.finished()] {
            fs::create_dir_all(dir).unwrap();
        }
        l
    }

    /// Writes data output `number` holding `body` and journals it as made of
    /// the data part of batch `number`.
    fn publish(l: &JobLayout, number: u32, body: &[u8]) -> JobOutput {
        let part = JobLayout::part_name(u64::from(number), FileKind::Data);
        crate::store::recovery::tests::publish(l, number, body, &[part.as_str()])
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_cancelled_job_keeps_its_outputs_and_journal_only() {
        let root = tempfile::tempdir().unwrap();
        let l = job(root.path());
        publish(&l, 1, b"a\n");
        fs::write(l.streaming_part(3, FileKind::Data), b"half").unwrap();
        fs::write(l.finished_part(2, FileKind::Data), b"b\n").unwrap();
        let claim = l.claim_dir(FileKind::Data, 2);
        fs::create_dir(&claim).unwrap();
        fs::write(claim.join(JobLayout::part_name(1, FileKind::Data)), b"c\n").unwrap();
        fs::write(l.temp_output(FileKind::Data, 2), b"partial").unwrap();

        remove_working_files(&l).unwrap();
        assert_eq!(names(l.job_dir()), [".journal", "Z9000_0001.ndjson"]);
        // Nothing left to remove is no error.
        remove_working_files(&l).unwrap();
    }

    #[test]
    fn removing_streaming_twice_is_no_error() {
        let root = tempfile::tempdir().unwrap();
        let l = job(root.path());
        fs::write(l.streaming_part(1, FileKind::Data), b"half").unwrap();
        remove_streaming(&l).unwrap();
        assert!(!l.streaming().exists() && l.finished().exists());
        remove_streaming(&l).unwrap();
    }

    #[test]
    fn outputs_come_from_the_journal_and_strays_from_finished() {
        let root = tempfile::tempdir().unwrap();
        let l = job(root.path());
        let first = publish(&l, 1, b"a\n");
        let second = publish(&l, 2, b"b\nc\n");
        fs::write(l.finished().join("notes.txt"), b"keep").unwrap();
        fs::write(l.finished().join("b"), b"keep").unwrap();

        let (outputs, strays) = list_outputs(&l, None).unwrap();
        assert_eq!(outputs, [first, second]);
        assert_eq!(strays, ["b", "notes.txt"]);
        assert!(l.journal().exists(), "only a completed job removes it");
    }

    #[test]
    fn a_completed_job_records_its_outputs_in_its_lock_and_removes_its_journal() {
        let root = tempfile::tempdir().unwrap();
        let l = job(root.path());
        let lock = JobLock::acquire(l.job_dir()).unwrap();
        lock.write_meta(&crate::store::recovery::tests::meta())
            .unwrap();
        let output = publish(&l, 1, b"a\n");
        fs::remove_dir(l.streaming()).unwrap();
        fs::remove_dir(l.finished()).unwrap();

        let (outputs, strays) = list_outputs(&l, Some(&lock)).unwrap();
        assert_eq!(outputs, std::slice::from_ref(&output));
        assert!(strays.is_empty());
        assert!(!l.journal().exists());
        assert_eq!(lock.meta().unwrap().unwrap().completed, Some(vec![output]));
        // Listed again (a resume of the completed job): from the record.
        assert_eq!(list_outputs(&l, Some(&lock)).unwrap().0, outputs);
    }

    #[test]
    fn without_journal_or_record_the_outputs_are_read_back() {
        let root = tempfile::tempdir().unwrap();
        let l = job(root.path());
        let output = publish(&l, 1, b"a\nb\n");
        fs::remove_file(l.journal()).unwrap();
        assert_eq!(list_outputs(&l, None).unwrap().0, [output]);
    }
}
