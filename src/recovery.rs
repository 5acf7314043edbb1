//! Opening a job directory: a fresh start, a resume after a crash or failure, or
//! a job that already completed. Blocking code, run once before a job starts.
//!
//! Recovery follows the files, which are the journal of the job (see
//! [`crate::combine`] for the order in which an output is made):
//!
//! 1. temp outputs (`.<output>.tmp`) are deleted: their step never published;
//! 2. each claim `finished/.claim-<kind>-<n>/` is finished or redone: when output
//!    `n` exists the claim is deleted (its parts are in the output), otherwise its
//!    parts go back to `finished/`, where output `n` will be made again — so the
//!    numbering stays contiguous;
//! 3. whatever is left in `streaming/` is deleted: those batches are fetched
//!    again; so are the parts in `finished/` when they may not have survived:
//!    their owner did not fsync them and the machine has restarted since
//!    ([`JobMeta::parts_survive`]);
//! 4. a batch is done when its data part is in `finished/` or in the journal (it
//!    is renamed after its error part, so its error part is then safe too); an
//!    error part whose data part is not done is deleted, since its batch is
//!    fetched again;
//! 5. the aggregator adopts everything in `finished/` when it starts.
//!
//! A directory with outputs but no journal, `streaming/` or `finished/` belongs
//! to a completed job: the journal is created before the first output and
//! removed only when the job completes. Nothing in it is touched.

use std::collections::HashSet;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::combine::{describe, describe_gzipped, fsync_dir};
use crate::error::{Error, IoContext, Result};
use crate::journal;
use crate::layout::{FileKind, JobLayout, CLAIM_PREFIX, GZIP_SUFFIX, TEMP_SUFFIX};
use crate::lock::{JobLock, JobMeta, LOCK_NAME};
use crate::report::JobOutput;

/// What opening the job directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Nothing was there: every batch is to be fetched.
    Fresh,
    /// An interrupted job: these batches are done and are skipped.
    Resumed {
        /// Numbers of the batches whose data part is safe.
        done_batches: HashSet<u64>,
    },
    /// The job completed earlier; its outputs are final.
    Completed,
}

/// Locks and prepares the job directory of `layout`.
///
/// Without `resume`, a directory that holds anything (but an unlocked lock file)
/// is refused untouched. Symbolic links are never followed: a job directory,
/// `streaming/` or `finished/` that is a link is refused.
pub fn open_job(layout: &JobLayout, meta: &JobMeta, resume: bool) -> Result<(JobLock, JobState)> {
    let dir = layout.job_dir();
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse(dir, "is a symbolic link; refusing to follow it"))
        }
        Ok(m) if !m.is_dir() => return Err(refuse(dir, "exists and is not a directory")),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir(dir).at("create job directory", dir)?;
        }
        Err(e) => return Err(Error::io("stat", dir, e)),
    }
    // Refused before the lock file is created: a refusal touches nothing.
    let refuse_occupied = |others: usize| {
        refuse(
            dir,
            &format!("already holds {others} entries; resume the job or choose another job id"),
        )
    };
    let others = count_entries(dir)?;
    if others > 0 && !resume {
        return Err(refuse_occupied(others));
    }
    let mut lock = JobLock::acquire(dir)?;
    let others = count_entries(dir)?;
    if others == 0 {
        lock.write_meta(meta)?;
        create_dir_checked(layout.streaming())?;
        create_dir_checked(layout.finished())?;
        return Ok((lock, JobState::Fresh));
    }
    if !resume {
        return Err(refuse_occupied(others));
    }
    let recorded = lock.meta()?;
    if let Some(recorded) = &recorded {
        if recorded.batch_size != meta.batch_size || recorded.contract != meta.contract {
            return Err(refuse(
                dir,
                &format!(
                    "was started with contract {} and batch size {}; resume it with the same",
                    recorded.contract, recorded.batch_size
                ),
            ));
        }
    }
    // The new owner is recorded once recovery is over: a recovery cut short
    // is judged again by the same record.
    let parts_survive = recorded.as_ref().is_none_or(JobMeta::parts_survive);
    let state = recover(layout, parts_survive)?;
    // Unsynced parts that survived stay unsynced, whatever this owner does.
    let unsynced_kept = recorded.as_ref().is_some_and(|r| !r.sync_parts) && parts_survive;
    lock.write_meta(&JobMeta {
        sync_parts: meta.sync_parts && !unsynced_kept,
        ..meta.clone()
    })?;
    Ok((lock, state))
}

/// Entries of the job directory but its lock file.
fn count_entries(dir: &Path) -> Result<usize> {
    let mut count = 0;
    for entry in fs::read_dir(dir).at("list", dir)? {
        if entry.at("list", dir)?.file_name() != LOCK_NAME {
            count += 1;
        }
    }
    Ok(count)
}

fn refuse(path: &Path, reason: &str) -> Error {
    Error::JobDirectory {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Whether `path` exists as a real directory; refuses links and files.
fn existing_dir(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(refuse(path, "is a symbolic link; refusing to follow it"))
        }
        Ok(m) if !m.is_dir() => Err(refuse(path, "exists and is not a directory")),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

fn create_dir_checked(path: &Path) -> Result<()> {
    if !existing_dir(path)? {
        fs::create_dir(path).at("create", path)?;
    }
    Ok(())
}

fn recover(layout: &JobLayout, parts_survive: bool) -> Result<JobState> {
    let dir = layout.job_dir();
    let has_streaming = existing_dir(layout.streaming())?;
    let has_finished = existing_dir(layout.finished())?;
    let has_journal = fs::symlink_metadata(layout.journal()).is_ok();
    let mut has_outputs = false;
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            log::info!("recovery: removing unpublished {name}");
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        } else if layout.parse_output_name(&name).is_some() {
            has_outputs = true;
        }
    }
    if !has_streaming && !has_finished && !has_journal && has_outputs {
        return Ok(JobState::Completed);
    }
    create_dir_checked(layout.streaming())?;
    create_dir_checked(layout.finished())?;

    release_claims(layout)?;
    for entry in fs::read_dir(layout.streaming()).at("list", layout.streaming())? {
        let entry = entry.at("list", layout.streaming())?;
        log::info!("recovery: discarding unfinished {}", entry.path().display());
        if entry.file_type().at("stat", &entry.path())?.is_dir() {
            fs::remove_dir_all(entry.path()).at("remove", &entry.path())?;
        } else {
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }

    let mut done_batches = HashSet::new();
    let mut error_parts = Vec::new();
    for entry in journal::read(&layout.journal())? {
        if entry.kind == FileKind::Data {
            done_batches.extend(
                entry
                    .parts
                    .iter()
                    .filter_map(|p| JobLayout::batch_of_part(&p)),
            );
        }
    }
    for entry in fs::read_dir(layout.finished()).at("list", layout.finished())? {
        let entry = entry.at("list", layout.finished())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(batch) = JobLayout::batch_of_part(&name) else {
            continue;
        };
        if !parts_survive {
            log::info!(
                "recovery: {name} was not fsynced and the machine restarted since; \
                 fetching batch {batch} again"
            );
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
            continue;
        }
        match FileKind::of_part(&name) {
            Some(FileKind::Data) => {
                done_batches.insert(batch);
            }
            Some(FileKind::Error) => error_parts.push((batch, entry.path())),
            None => {}
        }
    }
    for (batch, path) in error_parts {
        if !done_batches.contains(&batch) {
            log::info!(
                "recovery: batch {batch} is not done; discarding {}",
                path.display()
            );
            fs::remove_file(&path).at("remove", &path)?;
        }
    }
    fsync_dir(layout.finished())?;
    fsync_dir(layout.streaming())?;
    Ok(JobState::Resumed { done_batches })
}

/// The outputs in the job directory, described from their bytes (for a job
/// whose journal is gone because it completed). Data first, each kind by number.
pub fn existing_outputs(layout: &JobLayout) -> Result<Vec<JobOutput>> {
    let mut found = Vec::new();
    let dir = layout.job_dir();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((kind, number)) = layout.parse_output_name(&name) {
            found.push((kind, number, name));
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(kind, _, file)| {
            let path = dir.join(&file);
            let (summary, compressed_bytes) = if file.ends_with(GZIP_SUFFIX) {
                let compressed = fs::metadata(&path).at("stat", &path)?.len();
                (describe_gzipped(&path)?, Some(compressed))
            } else {
                (describe(&path)?, None)
            };
            Ok(JobOutput {
                file,
                kind,
                bytes: summary.bytes,
                records: summary.records,
                sha256: summary.sha256,
                compressed_bytes,
            })
        })
        .collect()
}

/// Finishes or redoes every claim left in `finished/` by an interrupted step.
fn release_claims(layout: &JobLayout) -> Result<()> {
    for entry in fs::read_dir(layout.finished()).at("list", layout.finished())? {
        let entry = entry.at("list", layout.finished())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(CLAIM_PREFIX) else {
            continue;
        };
        let claim = entry.path();
        let parsed = rest.split_once('-').and_then(|(kind, n)| {
            let kind = FileKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
            Some((kind, n.parse::<u32>().ok()?))
        });
        let Some((kind, number)) = parsed else {
            log::warn!(
                "recovery: leaving {} alone: not a claim of this crate",
                claim.display()
            );
            continue;
        };
        let published = [false, true]
            .into_iter()
            .any(|gzip| layout.clone().with_gzip(gzip).output(kind, number).exists());
        if published {
            log::info!("recovery: output {number} of {kind} was published; releasing its claim");
        } else {
            log::info!(
                "recovery: output {number} of {kind} was not published; returning its parts"
            );
            for part in fs::read_dir(&claim).at("list", &claim)? {
                let part = part.at("list", &claim)?;
                let to = layout.finished().join(part.file_name());
                fs::rename(part.path(), &to).at("return part", &part.path())?;
            }
            fsync_dir(layout.finished())?;
        }
        fs::remove_dir_all(&claim).at("remove claim", &claim)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part_names::PartNames;

    fn meta() -> JobMeta {
        JobMeta {
            job_id: "J".into(),
            contract: "Z9000".into(),
            batch_size: 10,
            boot_id: None,
            sync_parts: true,
        }
    }

    fn layout(root: &Path) -> JobLayout {
        JobLayout::new(root.join("J"), "streaming", "finished", "Z9000")
    }

    #[test]
    fn a_fresh_directory_is_created_and_locked() {
        let root = tempfile::tempdir().unwrap();
        let l = layout(root.path());
        let (_lock, state) = open_job(&l, &meta(), false).unwrap();
        assert_eq!(state, JobState::Fresh);
        assert!(l.streaming().is_dir() && l.finished().is_dir());
        let err = open_job(&l, &meta(), true).unwrap_err().to_string();
        assert!(err.contains("in use by another running job"), "{err}");
    }

    #[test]
    fn claims_are_finished_or_redone_and_leftovers_discarded() {
        let root = tempfile::tempdir().unwrap();
        let l = layout(root.path());
        drop(open_job(&l, &meta(), false).unwrap());
        // Output 1 was published: its claim is just released.
        fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
        fs::create_dir(l.claim_dir(FileKind::Data, 1)).unwrap();
        fs::write(
            l.claim_dir(FileKind::Data, 1).join("tmp_000001.ndjson"),
            b"a\n",
        )
        .unwrap();
        // Output 2 was not: its parts return to finished/.
        fs::create_dir(l.claim_dir(FileKind::Data, 2)).unwrap();
        fs::write(
            l.claim_dir(FileKind::Data, 2).join("tmp_000002.ndjson"),
            b"b\n",
        )
        .unwrap();
        fs::write(l.temp_output(FileKind::Data, 2), b"partial").unwrap();
        // Batch 3 finished, batch 4 only got its error part across, batch 5 is unfinished.
        fs::write(l.finished_part(3, FileKind::Data), b"c\n").unwrap();
        fs::write(l.finished_part(3, FileKind::Error), b"e3\n").unwrap();
        fs::write(l.finished_part(4, FileKind::Error), b"e4\n").unwrap();
        fs::write(l.streaming_part(5, FileKind::Data), b"half").unwrap();

        let (_lock, state) = open_job(&l, &meta(), true).unwrap();
        let JobState::Resumed { done_batches } = state else {
            panic!("{state:?}")
        };
        assert_eq!(done_batches, HashSet::from([2, 3]));
        let mut finished: Vec<_> = fs::read_dir(l.finished())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        finished.sort();
        assert_eq!(
            finished,
            [
                "tmp_000002.ndjson",
                "tmp_000003.ndjson",
                "tmp_000003_error.ndjson"
            ]
        );
        assert_eq!(fs::read_dir(l.streaming()).unwrap().count(), 0);
        assert!(!l.temp_output(FileKind::Data, 2).exists());
    }

    #[test]
    fn unsynced_parts_are_fetched_again_after_a_restart() {
        for (boot, kept) in [
            (Some("another-boot"), false),
            (crate::lock::boot_id(), true),
        ] {
            let root = tempfile::tempdir().unwrap();
            let l = layout(root.path());
            let unsynced = JobMeta {
                boot_id: boot.map(str::to_owned),
                sync_parts: false,
                ..meta()
            };
            drop(open_job(&l, &unsynced, false).unwrap());
            // Batch 1 is in the journal (its output is durable); batch 2 was
            // claimed for an output never published; batch 3 waits.
            let journaled = PartNames::from_names(["tmp_000001.ndjson"]);
            journal::append(
                &l.journal(),
                &journal::JournalEntry {
                    kind: FileKind::Data,
                    output: None,
                    parts: std::borrow::Cow::Owned(journaled),
                },
            )
            .unwrap();
            fs::create_dir(l.claim_dir(FileKind::Data, 1)).unwrap();
            fs::write(
                l.claim_dir(FileKind::Data, 1).join("tmp_000002.ndjson"),
                b"b\n",
            )
            .unwrap();
            fs::write(l.finished_part(3, FileKind::Data), b"c\n").unwrap();
            fs::write(l.finished_part(3, FileKind::Error), b"e3\n").unwrap();

            let (mut lock, state) = open_job(&l, &meta(), true).unwrap();
            let JobState::Resumed { done_batches } = state else {
                panic!("{state:?}")
            };
            let parts_left = fs::read_dir(l.finished()).unwrap().count();
            // A syncing owner that keeps unsynced parts must not vouch for them.
            let recorded = lock.meta().unwrap().unwrap();
            assert_eq!(recorded.sync_parts, !kept, "{boot:?}");
            if kept {
                assert_eq!(done_batches, HashSet::from([1, 2, 3]), "{boot:?}");
                assert_eq!(parts_left, 3);
            } else {
                assert_eq!(done_batches, HashSet::from([1]), "{boot:?}");
                assert_eq!(parts_left, 0);
            }
        }
    }

    #[test]
    fn refusals_name_the_cause() {
        let root = tempfile::tempdir().unwrap();
        let l = layout(root.path());
        drop(open_job(&l, &meta(), false).unwrap());
        fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
        let err = open_job(&l, &meta(), false).unwrap_err().to_string();
        assert!(
            err.contains("already holds") && err.contains("resume"),
            "{err}"
        );
        let other = JobMeta {
            batch_size: 7,
            ..meta()
        };
        let err = open_job(&l, &other, true).unwrap_err().to_string();
        assert!(err.contains("batch size 10"), "{err}");

        fs::remove_dir(l.finished()).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), l.finished()).unwrap();
        let err = open_job(&l, &meta(), true).unwrap_err().to_string();
        assert!(
            err.contains("finished") && err.contains("symbolic link"),
            "{err}"
        );
    }

    #[test]
    fn a_completed_job_is_left_untouched() {
        let root = tempfile::tempdir().unwrap();
        let l = layout(root.path());
        drop(open_job(&l, &meta(), false).unwrap());
        fs::remove_dir(l.streaming()).unwrap();
        fs::remove_dir(l.finished()).unwrap();
        fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
        let (_lock, state) = open_job(&l, &meta(), true).unwrap();
        assert_eq!(state, JobState::Completed);
        assert!(!l.streaming().exists() && !l.finished().exists());
    }
}
