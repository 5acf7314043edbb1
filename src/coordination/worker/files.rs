//! A worker's file work on the shared job directory. Blocking: run on
//! blocking threads, never on an arbiter.
//!
//! Parts of a claim live in `streaming/` under fenced names
//! (`tmp_000042-t3.ndjson`) until their batch is committed, then move into
//! `finished/` under the plain name. What a crash leaves between the two — a
//! committed part not moved, a part whose claim was taken over — is settled by
//! the job's aggregator ([`settle_fenced_parts`]), which asks the database.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::coordination::FencedPart;
use crate::error::{Error, IoContext, Result};
use crate::store::layout::{FileKind, JobLayout};
use crate::store::part::{CompletePart, FinishedPart};
use crate::store::untrusted;

/// Creates the job directory, `streaming/` and `finished/` where missing;
/// refuses any of them that is a symbolic link or not a directory.
pub(super) fn ready_job_dirs(layout: &JobLayout) -> Result<()> {
    for dir in [layout.job_dir(), layout.streaming(), layout.finished()] {
        match fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(dir, "is a symbolic link; refusing to follow it"))
            }
            Ok(m) if !m.is_dir() => return Err(refuse(dir, "exists and is not a directory")),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => match fs::create_dir(dir) {
                Err(e) if e.kind() != ErrorKind::AlreadyExists => {
                    return Err(Error::io("create", dir, e))
                }
                _ => {}
            },
            Err(e) => return Err(Error::io("stat", dir, e)),
        }
    }
    Ok(())
}

fn refuse(path: &Path, reason: &str) -> Error {
    Error::JobDirectory {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Fsyncs a claim's complete parts: they must be durable before the batch is
/// committed, since a committed batch is never fetched again.
pub(super) fn sync_parts(parts: &mut [Option<CompletePart>; 2]) -> Result<()> {
    for part in parts.iter_mut().flatten() {
        part.sync()?;
    }
    Ok(())
}

/// Moves a committed claim's parts into `finished/`, error part first. A part
/// already gone from `streaming/` was moved by the job's aggregator, which
/// adopts committed parts a worker left behind: its plain name is then in
/// `finished/` or already combined.
pub(super) fn publish_parts(parts: [Option<CompletePart>; 2]) -> Result<Vec<FinishedPart>> {
    let mut finished = Vec::with_capacity(2);
    for part in parts.into_iter().flatten() {
        match part.finish() {
            Ok(part) => finished.push(part),
            Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(finished)
}

/// Deletes the parts of the claim of `batch` with `token`, whichever exist.
pub(super) fn discard_claim_parts(layout: &JobLayout, batch: u64, token: u64) {
    for kind in FileKind::ALL {
        let path = layout
            .streaming()
            .join(FencedPart { batch, token, kind }.file_name());
        match fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                log::warn!("could not remove dropped part {}: {e}", path.display())
            }
            _ => {}
        }
    }
}

/// The fenced parts in `streaming/`: regular files only (anything else there is
/// no claim's part and is left to the removal of `streaming/`).
pub(super) fn fenced_parts(layout: &JobLayout) -> Result<Vec<FencedPart>> {
    let dir = layout.streaming();
    if untrusted::is_symlink(dir)? {
        return Err(refuse(dir, "is a symbolic link; refusing to follow it"));
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry.at("list", dir)?;
        let Some(part) = entry.file_name().to_str().and_then(FencedPart::parse) else {
            continue;
        };
        if entry.file_type().at("stat", &entry.path())?.is_file() {
            parts.push(part);
        }
    }
    parts.sort();
    Ok(parts)
}

/// What the database says of a fenced part found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Its (batch, token) is committed: it belongs in `finished/`.
    Adopt,
    /// Its claim is still held: its worker is writing it.
    Leave,
    /// Superseded or cancelled: nobody will ever commit it.
    Delete,
}

/// Adopts (moves into `finished/`) or deletes the fenced parts as `verdicts`
/// say. A part gone meanwhile was moved or deleted by its worker. Returns the
/// counts adopted and deleted.
pub(super) fn settle_fenced_parts(
    layout: &JobLayout,
    verdicts: &[(FencedPart, Verdict)],
) -> Result<(usize, usize)> {
    let (mut adopted, mut deleted) = (0, 0);
    for (part, verdict) in verdicts {
        let from = layout.streaming().join(part.file_name());
        let done = match verdict {
            Verdict::Leave => continue,
            Verdict::Adopt => {
                let to = layout.finished_part(part.batch, part.kind);
                fs::rename(&from, &to).map(|()| adopted += 1)
            }
            Verdict::Delete => fs::remove_file(&from).map(|()| deleted += 1),
        };
        match done {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(Error::io("settle part", &from, e))
            }
            _ => {}
        }
    }
    Ok((adopted, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(root: &Path) -> JobLayout {
        JobLayout::new(root.join("J"), "streaming", "finished", "Z9000")
    }

    fn fenced(batch: u64, token: u64, kind: FileKind) -> FencedPart {
        FencedPart { batch, token, kind }
    }

    #[test]
    fn job_dirs_are_made_once_and_links_refused() {
        let root = tempfile::tempdir().unwrap();
        let layout = job(root.path());
        ready_job_dirs(&layout).unwrap();
        ready_job_dirs(&layout).unwrap();
        assert!(layout.streaming().is_dir() && layout.finished().is_dir());

        fs::remove_dir(layout.finished()).unwrap();
        std::os::unix::fs::symlink(root.path(), layout.finished()).unwrap();
        let refused = ready_job_dirs(&layout).unwrap_err().to_string();
        assert!(refused.contains("symbolic link"), "{refused}");
    }

    #[test]
    fn only_fenced_regular_files_are_listed() {
        let root = tempfile::tempdir().unwrap();
        let layout = job(root.path());
        ready_job_dirs(&layout).unwrap();
        let s = layout.streaming();
        fs::write(s.join("tmp_000002-t1.ndjson"), "a\n").unwrap();
        fs::write(s.join("tmp_000001-t4_error.ndjson"), "b\n").unwrap();
        fs::write(s.join("tmp_000003.ndjson"), "plain\n").unwrap();
        fs::write(s.join("notes.txt"), "x").unwrap();
        fs::create_dir(s.join("tmp_000005-t1.ndjson")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", s.join("tmp_000006-t1.ndjson")).unwrap();
        assert_eq!(
            fenced_parts(&layout).unwrap(),
            vec![fenced(1, 4, FileKind::Error), fenced(2, 1, FileKind::Data)]
        );
    }

    #[test]
    fn settling_adopts_deletes_and_leaves_as_told() {
        let root = tempfile::tempdir().unwrap();
        let layout = job(root.path());
        ready_job_dirs(&layout).unwrap();
        let adopt = fenced(7, 2, FileKind::Data);
        let delete = fenced(7, 1, FileKind::Data);
        let leave = fenced(8, 1, FileKind::Error);
        let gone = fenced(9, 1, FileKind::Data);
        for part in [adopt, delete, leave] {
            fs::write(layout.streaming().join(part.file_name()), "{}\n").unwrap();
        }
        let verdicts = [
            (adopt, Verdict::Adopt),
            (delete, Verdict::Delete),
            (leave, Verdict::Leave),
            (gone, Verdict::Adopt),
        ];
        assert_eq!(settle_fenced_parts(&layout, &verdicts).unwrap(), (1, 1));
        assert_eq!(
            fs::read(layout.finished().join("tmp_000007.ndjson")).unwrap(),
            b"{}\n"
        );
        let mut left: Vec<_> = fs::read_dir(layout.streaming())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec!["tmp_000008-t1_error.ndjson"]);
    }
}
