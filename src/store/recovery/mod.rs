//! Opening a job directory: a fresh start, a resume after a crash or failure, or
//! a job that already completed. Blocking code, run once before a job starts
//! (and by a standalone aggregator before it adopts parts, see
//! [`recover_aggregation`]).
//!
//! Recovery follows the files, which are the journal of the job (see
//! [`crate::store::combine`] for the order in which an output is made), and trusts
//! none of them blindly: the directory may hold hand edits, other processes'
//! files and hostile links.
//!
//! 1. temp outputs (`.<output>.tmp`) are deleted: their step never published;
//! 2. every output is checked against the journal. One the journal records
//!    must be a regular file of the recorded size and SHA-256, or the run is
//!    refused naming it (a journaled output may be missing only while its
//!    claim still exists: it is made again). One the journal does not account
//!    for (a journal cut short, a copied file) is removed when its batches can
//!    be fetched again ([`Unaccounted::Remove`]: `export --resume`), and
//!    refused naming the journal when they cannot ([`Unaccounted::Refuse`]: the
//!    standalone aggregator);
//! 3. each claim `finished/.claim-<kind>-<n>/` is finished or redone: when
//!    output `n` exists (and so is journaled and verified) the claim is
//!    deleted, otherwise its parts go back to `finished/`, where output `n`
//!    will be made again — so the numbering stays contiguous;
//! 4. whatever is left in `streaming/` is deleted: those batches are fetched
//!    again; so are the parts in `finished/` when they may not have survived:
//!    their owner did not fsync them and the machine has restarted since
//!    ([`JobMeta::parts_survive`]);
//! 5. a batch is done when its data part is a regular file in `finished/` or
//!    is in the journal (it is renamed after its error part, so its error part
//!    is then safe too); an error part whose data part is not done is deleted,
//!    since its batch is fetched again. Anything named like a part that is not
//!    a regular file (a link, a directory, a FIFO, a socket, a file that cannot
//!    be read) is set aside as `<name>.set-aside`, named in the report, and its
//!    batch is fetched again;
//! 6. the aggregator adopts everything in `finished/` when it starts.
//!
//! A completed job records its outputs in its lock file ([`JobMeta::completed`])
//! and removes its journal; a resume verifies them the same way and touches
//! nothing. (A directory with outputs but no journal, `streaming/` or
//! `finished/`, and no such record, was completed by an older version.)

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::report::JobOutput;
use crate::store::combine::{describe, describe_file, describe_gzipped, fsync_dir};
use crate::store::journal::{self, JournalEntry};
use crate::store::layout::{FileKind, JobLayout, CLAIM_PREFIX, GZIP_SUFFIX, TEMP_SUFFIX};
use crate::store::lock::{JobLock, JobMeta, LOCK_NAME};
use crate::store::untrusted::{self, Opened};

/// Suffix given to an entry named like a part that is not a regular file.
pub const SET_ASIDE_SUFFIX: &str = ".set-aside";

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
    /// The job completed earlier; its outputs are final (and were verified).
    Completed,
}

/// What recovery does with an output the journal does not account for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unaccounted {
    /// Remove it: its batches are not done, so they are fetched again.
    Remove,
    /// Refuse to go on, naming the journal: its parts cannot be had again.
    Refuse,
}

/// Locks and prepares the job directory of `layout`.
///
/// Without `resume`, a directory that holds anything (but an unlocked lock file)
/// is refused untouched. Symbolic links are never followed: a job directory,
/// `streaming/` or `finished/` that is a link is refused.
///
/// A parts-only job (`parts_only`) shares its directory with an aggregator in
/// another process: its outputs, journal and claims are that aggregator's, so
/// its recovery only reads them (batches in them are done) and leaves them be.
pub fn open_job(
    layout: &JobLayout,
    meta: &JobMeta,
    resume: bool,
    parts_only: bool,
) -> Result<(JobLock, JobState)> {
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
    let lock = JobLock::acquire(dir)?;
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
        if let Some(outputs) = &recorded.completed {
            verify_completed(layout, outputs)?;
            return Ok((lock, JobState::Completed));
        }
    }
    // The new owner is recorded once recovery is over: a recovery cut short
    // is judged again by the same record.
    let parts_survive = recorded.as_ref().is_none_or(JobMeta::parts_survive);
    let state = recover(layout, parts_survive, parts_only)?;
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

fn recover(layout: &JobLayout, parts_survive: bool, parts_only: bool) -> Result<JobState> {
    let has_streaming = existing_dir(layout.streaming())?;
    let has_finished = existing_dir(layout.finished())?;
    let has_journal = fs::symlink_metadata(layout.journal()).is_ok();
    let outputs = output_files(layout)?;
    if !has_streaming && !has_finished && !has_journal && !outputs.is_empty() {
        remove_temp_outputs(layout)?;
        return Ok(JobState::Completed);
    }
    create_dir_checked(layout.streaming())?;
    create_dir_checked(layout.finished())?;

    let mut done_batches = HashSet::new();
    let entries = if parts_only {
        // In an aggregator's claims, or journaled by it: done either way.
        for (_, _, claim) in claims(layout)? {
            for part in fs::read_dir(&claim).at("list", &claim)? {
                let name = part.at("list", &claim)?.file_name();
                let name = name.to_string_lossy();
                if FileKind::of_part(&name) == Some(FileKind::Data) {
                    done_batches.extend(JobLayout::batch_of_part(&name));
                }
            }
        }
        journal::read(&layout.journal())?
    } else {
        recover_outputs(layout, Unaccounted::Remove)?
    };
    for entry in fs::read_dir(layout.streaming()).at("list", layout.streaming())? {
        let entry = entry.at("list", layout.streaming())?;
        log::info!("recovery: discarding unfinished {}", entry.path().display());
        // Not followed: a link is removed, never what it points to.
        if entry.file_type().at("stat", &entry.path())?.is_dir() {
            fs::remove_dir_all(entry.path()).at("remove", &entry.path())?;
        } else {
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }

    let mut error_parts = Vec::new();
    for entry in entries.iter().filter(|e| e.kind == FileKind::Data) {
        done_batches.extend(
            entry
                .parts
                .iter()
                .filter_map(|p| JobLayout::batch_of_part(&p)),
        );
    }
    drop(entries);
    for entry in fs::read_dir(layout.finished()).at("list", layout.finished())? {
        let entry = entry.at("list", layout.finished())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(batch) = JobLayout::batch_of_part(&name) else {
            continue;
        };
        let path = entry.path();
        if let Opened::NotRegular(what) = untrusted::open_regular(&path)? {
            set_aside(&path, what)?;
            continue;
        }
        if !parts_survive {
            log::info!(
                "recovery: {name} was not fsynced and the machine restarted since; \
                 fetching batch {batch} again"
            );
            fs::remove_file(&path).at("remove", &path)?;
            continue;
        }
        match FileKind::of_part(&name) {
            Some(FileKind::Data) => {
                done_batches.insert(batch);
            }
            Some(FileKind::Error) => error_parts.push((batch, path)),
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

/// Renames `path`, which is `what` and not a part, out of the way of the
/// part its batch will write again: `<name>.set-aside` (numbered if taken).
fn set_aside(path: &Path, what: &str) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut to = path.with_file_name(format!("{name}{SET_ASIDE_SUFFIX}"));
    let mut n = 1;
    while fs::symlink_metadata(&to).is_ok() {
        n += 1;
        to = path.with_file_name(format!("{name}{SET_ASIDE_SUFFIX}-{n}"));
    }
    log::warn!(
        "recovery: {} is {what}, not a part; set aside as {} and its batch fetched again",
        path.display(),
        to.display()
    );
    fs::rename(path, &to).at("set aside", path)
}

/// Readies the job directory of a standalone aggregator (one that runs beside
/// other writers, see [`crate::Aggregator::watch`]): steps 1–3 of the module
/// docs, with outputs the journal does not account for refused. `streaming/`
/// and the parts in `finished/` belong to the writers and are left alone.
/// Blocking.
pub fn recover_aggregation(layout: &JobLayout) -> Result<()> {
    for dir in [layout.job_dir(), layout.finished(), layout.streaming()] {
        existing_dir(dir)?;
    }
    if existing_dir(layout.finished())? || layout.journal().exists() {
        recover_outputs(layout, Unaccounted::Refuse)?;
    }
    Ok(())
}

/// Steps 1–3 of the module docs; returns the journal's entries.
fn recover_outputs(
    layout: &JobLayout,
    unaccounted: Unaccounted,
) -> Result<Vec<JournalEntry<'static>>> {
    remove_temp_outputs(layout)?;
    let entries = journal::read(&layout.journal())?;
    // The last entry for an output wins: a step journaled before a crash
    // that kept it from publishing was made again under the same number (or
    // taken back by a void line, once recovery returned its parts).
    let mut journaled: BTreeMap<(FileKind, u32), usize> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if let Some(voided) = entry.voids.as_deref() {
            if let Some(key) = layout.parse_output_name(voided) {
                journaled.remove(&key);
            }
        }
        let Some(output) = &entry.output else {
            continue;
        };
        let Some(key) = layout.parse_output_name(&output.file) else {
            return Err(refuse(
                &layout.journal(),
                &format!(
                    "records {:?}, which is not an output name of this job; \
                     the journal does not belong here",
                    output.file
                ),
            ));
        };
        journaled.insert(key, index);
    }
    let output_of = |index: usize| entries[index].output.as_ref().expect("an output entry");
    let claims = claims(layout)?;
    let claimed: HashSet<(FileKind, u32)> = claims.iter().map(|(k, n, _)| (*k, *n)).collect();

    // Outputs on disk against the journal.
    let lowest_journaled =
        |kind: FileKind| journaled.keys().find(|(k, _)| *k == kind).map(|(_, n)| *n);
    for (kind, number, name) in output_files(layout)? {
        let path = layout.job_dir().join(&name);
        match journaled.get(&(kind, number)).map(|&i| output_of(i)) {
            Some(recorded) if recorded.file == name => verify(&path, recorded)?,
            _ => {
                // A standalone aggregator may run over outputs of an earlier,
                // completed aggregation (its journal removed): those are below
                // everything this run's journal records.
                let earlier = unaccounted == Unaccounted::Refuse
                    && !claimed.contains(&(kind, number))
                    && lowest_journaled(kind).is_none_or(|lowest| number < lowest);
                if earlier {
                    continue;
                }
                match unaccounted {
                    Unaccounted::Remove => {
                        log::warn!(
                            "recovery: removing {}: the journal does not account for it \
                             (cut short, or a file copied in); its batches are fetched again",
                            path.display()
                        );
                        fs::remove_file(&path).at("remove", &path)?;
                    }
                    Unaccounted::Refuse => {
                        return Err(refuse(
                            &layout.journal(),
                            &format!(
                                "does not account for {name} (cut short or edited?); its \
                                 parts cannot be had again: restore the journal or remove {name} \
                                 and its records knowingly"
                            ),
                        ))
                    }
                }
            }
        }
    }
    for (&(kind, number), &index) in &journaled {
        let recorded = output_of(index);
        let path = layout.job_dir().join(&recorded.file);
        if !claimed.contains(&(kind, number)) && fs::symlink_metadata(&path).is_err() {
            return Err(refuse(
                &path,
                &format!(
                    "is recorded in the journal ({} records, {} bytes, sha256 {}) but is \
                     missing; restore it, or remove the job directory and run the job again",
                    recorded.records, recorded.bytes, recorded.sha256
                ),
            ));
        }
    }
    release_claims(layout, &claims, &journaled, &entries)?;
    // What the journal says is in outputs now, or was dropped as empty: the
    // batches done for good. A line for an output that was never published
    // (its parts returned, or its claim gone with them) vouches for nothing.
    let published: HashSet<usize> = journaled.values().copied().collect();
    Ok(entries
        .into_iter()
        .enumerate()
        .filter(|(i, e)| match &e.output {
            None => e.voids.is_none(),
            Some(o) => {
                published.contains(i)
                    && fs::symlink_metadata(layout.job_dir().join(&o.file)).is_ok()
            }
        })
        .map(|(_, e)| e)
        .collect())
}

/// Checks that the output at `path` is a regular file with the recorded size
/// and SHA-256; refuses naming it otherwise.
fn verify(path: &Path, recorded: &JobOutput) -> Result<()> {
    let mismatch = |found: String| {
        refuse(
            path,
            &format!(
                "does not match its record ({} records, {} bytes, sha256 {}): {found}; \
                 restore it, or remove the job directory and run the job again",
                recorded.records, recorded.bytes, recorded.sha256
            ),
        )
    };
    let (file, len) = match untrusted::open_regular(path)? {
        Opened::Regular(file, len) => (file, len),
        Opened::NotRegular(what) => return Err(mismatch(format!("it is {what}"))),
        Opened::Missing => return Err(mismatch("it is missing".into())),
    };
    let expected_len = recorded.compressed_bytes.unwrap_or(recorded.bytes);
    if len != expected_len {
        return Err(mismatch(format!("it has {len} bytes")));
    }
    // The descriptor just checked is the one read.
    let summary = describe_file(file, path, recorded.compressed_bytes.is_some())?;
    if summary.bytes != recorded.bytes
        || summary.records != recorded.records
        || summary.sha256 != recorded.sha256
    {
        return Err(mismatch(format!(
            "it holds {} records, {} bytes, sha256 {}",
            summary.records, summary.bytes, summary.sha256
        )));
    }
    Ok(())
}

/// Verifies the outputs of a completed job against its record: each is
/// there, unchanged, and no other output is.
fn verify_completed(layout: &JobLayout, outputs: &[JobOutput]) -> Result<()> {
    let recorded: HashSet<&str> = outputs.iter().map(|o| o.file.as_str()).collect();
    for (_, _, name) in output_files(layout)? {
        if !recorded.contains(name.as_str()) {
            return Err(refuse(
                &layout.job_dir().join(&name),
                "is not one of the outputs the completed job recorded; remove it",
            ));
        }
    }
    for output in outputs {
        verify(&layout.job_dir().join(&output.file), output)?;
    }
    Ok(())
}

/// Deletes temp outputs (`.<output>.tmp`): their steps never published.
fn remove_temp_outputs(layout: &JobLayout) -> Result<()> {
    let dir = layout.job_dir();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            log::info!("recovery: removing unpublished {name}");
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }
    Ok(())
}

/// Output files in the job directory: kind, number, name; sorted.
fn output_files(layout: &JobLayout) -> Result<Vec<(FileKind, u32, String)>> {
    let dir = layout.job_dir();
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).at("list", dir)? {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((kind, number)) = layout.parse_output_name(&name) {
            found.push((kind, number, name));
        }
    }
    found.sort();
    Ok(found)
}

/// The outputs in the job directory, described from their bytes (for a job
/// whose journal is gone because it completed). Data first, each kind by number.
pub fn existing_outputs(layout: &JobLayout) -> Result<Vec<JobOutput>> {
    let dir = layout.job_dir();
    output_files(layout)?
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

/// The claim directories in `finished/`: kind, number, path. Entries named
/// like a claim that are not real directories of this crate are left alone
/// (and so named as strays in the report); a link is never followed.
fn claims(layout: &JobLayout) -> Result<Vec<(FileKind, u32, PathBuf)>> {
    let mut found = Vec::new();
    // Gone once an aggregator finished: then no claim is left.
    if !existing_dir(layout.finished())? {
        return Ok(found);
    }
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
        let is_dir = entry.file_type().at("stat", &claim)?.is_dir();
        match parsed {
            Some((kind, number)) if is_dir => found.push((kind, number, claim)),
            _ => log::warn!(
                "recovery: leaving {} alone: not a claim of this crate",
                claim.display()
            ),
        }
    }
    Ok(found)
}

/// Finishes or redoes every claim left in `finished/` by an interrupted step:
/// its output exists (it was verified) → the claim is deleted; it does not →
/// its parts return to `finished/`, after a void line takes back the journal
/// line of an output that was journaled but never published.
fn release_claims(
    layout: &JobLayout,
    claims: &[(FileKind, u32, PathBuf)],
    journaled: &BTreeMap<(FileKind, u32), usize>,
    entries: &[JournalEntry<'_>],
) -> Result<()> {
    for (kind, number, claim) in claims {
        let (kind, number) = (*kind, *number);
        let published = [false, true].into_iter().any(|gzip| {
            fs::symlink_metadata(layout.clone().with_gzip(gzip).output(kind, number)).is_ok()
        });
        if published {
            log::info!("recovery: output {number} of {kind} was published; releasing its claim");
        } else {
            log::info!(
                "recovery: output {number} of {kind} was not published; returning its parts"
            );
            if let Some(output) = journaled
                .get(&(kind, number))
                .and_then(|&i| entries[i].output.as_ref())
            {
                journal::append(
                    &layout.journal(),
                    &JournalEntry {
                        kind,
                        output: None,
                        parts: std::borrow::Cow::Owned(Default::default()),
                        voids: Some(output.file.clone()),
                    },
                )?;
            }
            for part in fs::read_dir(claim).at("list", claim)? {
                let part = part.at("list", claim)?;
                let to = layout.finished().join(part.file_name());
                fs::rename(part.path(), &to).at("return part", &part.path())?;
            }
            fsync_dir(layout.finished())?;
        }
        fs::remove_dir_all(claim).at("remove claim", claim)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
