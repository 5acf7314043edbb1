//! The job journal: one fsynced JSON line for every output, written before the
//! output's temp file is renamed to its final name.
//!
//! The journal is what makes the on-disk state self-describing: which parts (and
//! so which batches) each output consumed, and the output's size, record count
//! and checksum. A line that does not end in `\n` was torn by a crash before its
//! fsync completed, and so before its output was renamed: readers ignore it.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::report::JobOutput;
use crate::store::layout::{FileKind, JobLayout};
use crate::store::part_names::PartNames;

/// One journal line: an aggregation step and the parts it consumed. Borrows
/// the parts when written (an output may consume tens of thousands), owns them
/// when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry<'a> {
    /// The kind of the parts.
    pub kind: FileKind,
    /// The output made from them; `None` when every part was empty and was
    /// dropped without an output.
    pub output: Option<JobOutput>,
    /// Names of the consumed parts.
    pub parts: Cow<'a, PartNames>,
    /// The output file this line takes back: a step journaled it, but a crash
    /// kept it from being published and recovery returned its parts. Such a
    /// line has no output and no parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voids: Option<String>,
}

/// Appends `entry` to the journal at `path` and makes it durable.
///
/// The line is serialised straight into the file through a buffer (it may
/// name tens of thousands of parts). A torn last line, left by a crash, is cut
/// off first so that the new line starts a line of its own; a failed append
/// cuts its own partial line off again. Appends hold an exclusive lock on the
/// journal, so that steps running at once write whole lines one after the other.
pub fn append(path: &Path, entry: &JournalEntry<'_>) -> Result<()> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .at("open journal", path)?;
    file.lock().at("lock journal", path)?;
    let len = file.metadata().at("read journal", path)?.len();
    let end = complete_length(&mut file, len).at("read journal", path)?;
    let written = write_line(&mut file, end, entry).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(end);
    }
    written.at("write journal", path)
}

/// Writes `entry` and a newline at `offset`, which becomes the file's end.
fn write_line(file: &mut File, offset: u64, entry: &JournalEntry<'_>) -> io::Result<()> {
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut out = BufWriter::new(&*file);
    serde_json::to_writer(&mut out, entry)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Length of the journal, `len` bytes long, up to and including its last `\n`.
fn complete_length(file: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut chunk = [0u8; 4096];
    while end > 0 {
        let from = end.saturating_sub(chunk.len() as u64);
        let chunk = &mut chunk[..(end - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(chunk)?;
        if let Some(last) = memchr::memrchr(b'\n', chunk) {
            return Ok(from + last as u64 + 1);
        }
        end = from;
    }
    Ok(0)
}

/// Every complete entry of the journal at `path`; none when it does not exist.
pub fn read(path: &Path) -> Result<Vec<JournalEntry<'static>>> {
    read_as(path)
}

/// Every complete line of the journal, read as `T` (a view that skips the
/// fields it does not name: a line may list tens of thousands of parts).
///
/// The entries are parsed as they stream from the file, never a whole line
/// held: a line of tens of thousands of part names would be a job's largest
/// allocation. A torn last line (no `\n` after it) is left out before parsing.
fn read_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("open journal", path, e)),
    };
    let len = file.metadata().at("read journal", path)?.len();
    let complete = complete_length(&mut file, len).at("read journal", path)?;
    if complete < len {
        log::warn!("{}: ignoring a torn last line", path.display());
    }
    file.rewind().at("read journal", path)?;
    let lines = BufReader::new(file.take(complete));
    let mut entries = Vec::new();
    for entry in serde_json::Deserializer::from_reader(lines).into_iter() {
        let entry = entry.map_err(|e| match e.io_error_kind() {
            Some(_) => Error::io("read journal", path, io::Error::from(e)),
            None => Error::JobDirectory {
                path: path.to_owned(),
                reason: format!("journal line {} is not a journal entry: {e}", e.line()),
            },
        })?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The outputs the journal of `layout` records, data first, each kind by number.
///
/// An output journaled by a step that crashed before publishing it was made
/// again later under the same name: the last entry for a name wins, and an entry
/// whose file does not exist is left out.
pub fn outputs(layout: &JobLayout) -> Result<Vec<JobOutput>> {
    /// The output of a journal line, without its list of parts.
    #[derive(Deserialize)]
    struct OutputOnly {
        output: Option<JobOutput>,
        #[serde(default)]
        voids: Option<String>,
    }
    let mut latest = std::collections::BTreeMap::new();
    for entry in read_as::<OutputOnly>(&layout.journal())? {
        if let Some(voided) = entry.voids.and_then(|f| layout.parse_output_name(&f)) {
            latest.remove(&voided);
        }
        if let Some(output) = entry.output {
            let number = layout.parse_output_name(&output.file).map_or(0, |(_, n)| n);
            latest.insert((output.kind, number), output);
        }
    }
    Ok(latest
        .into_values()
        .filter(|o| layout.job_dir().join(&o.file).exists())
        .collect())
}

/// Removes the journal of a completed job, whose directory then holds its
/// outputs only.
pub fn remove(layout: &JobLayout) -> Result<()> {
    match std::fs::remove_file(layout.journal()) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io("remove", layout.journal(), e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_count;

    fn entry(n: u32) -> JournalEntry<'static> {
        JournalEntry {
            kind: FileKind::Data,
            output: Some(JobOutput {
                file: format!("Z9000_{n:04}.ndjson"),
                kind: FileKind::Data,
                bytes: 10,
                records: 2,
                sha256: "ab".into(),
                compressed_bytes: None,
            }),
            parts: Cow::Owned(PartNames::from_names(["tmp_000001.ndjson", "tmp_x.ndjson"])),
            voids: None,
        }
    }

    #[test]
    fn appends_and_reads_back_ignoring_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".journal");
        assert!(read(&path).unwrap().is_empty());
        append(&path, &entry(1)).unwrap();
        append(&path, &entry(2)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"da").unwrap();
        assert_eq!(read(&path).unwrap(), vec![entry(1), entry(2)]);
    }

    #[test]
    fn an_append_after_a_torn_tail_cuts_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".journal");
        append(&path, &entry(1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[b'x'; 10_000]).unwrap();
        append(&path, &entry(2)).unwrap();
        assert_eq!(read(&path).unwrap(), vec![entry(1), entry(2)]);
        // A journal that is nothing but a torn line.
        std::fs::write(&path, b"{\"kind\"").unwrap();
        append(&path, &entry(3)).unwrap();
        assert_eq!(read(&path).unwrap(), vec![entry(3)]);
    }

    #[test]
    fn appends_at_once_write_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".journal");
        let names: Vec<String> = (0..20_000).map(|b| format!("tmp_{b:06}.ndjson")).collect();
        let big = JournalEntry {
            parts: Cow::Owned(PartNames::from_names(&names)),
            ..entry(1)
        };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..5 {
                        append(&path, &big).unwrap();
                    }
                });
            }
        });
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 20);
        assert!(entries.iter().all(|e| *e == big));
    }

    #[test]
    fn outputs_are_read_without_holding_a_line_of_parts() {
        let dir = tempfile::tempdir().unwrap();
        let layout = JobLayout::new(dir.path().to_owned(), "streaming", "finished", "Z9000");
        let names: Vec<String> = (0..30_000).map(|b| format!("tmp_{b:06}.ndjson")).collect();
        for n in 1..=2 {
            let output = entry(n).output.unwrap();
            std::fs::write(layout.job_dir().join(&output.file), b"x\ny\n").unwrap();
            let big = JournalEntry {
                parts: Cow::Owned(PartNames::from_names(&names)),
                ..entry(n)
            };
            append(&layout.journal(), &big).unwrap();
        }
        let line = std::fs::metadata(layout.journal()).unwrap().len() / 2;
        assert!(line > 500_000, "{line} bytes a line");
        let (outputs, usage) = alloc_count::measure(|| outputs(&layout).unwrap());
        assert_eq!(outputs.len(), 2);
        assert!(usage.peak_bytes < 64 * 1024, "{} bytes", usage.peak_bytes);
    }

    #[test]
    fn a_garbled_line_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".journal");
        std::fs::write(&path, b"not json\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains(".journal") && err.contains("line 1"), "{err}");
        // After a good line and a blank one: the error names the line.
        std::fs::write(&path, b"").unwrap();
        append(&path, &entry(1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\nnot json\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("journal line 3 "), "{err}");
    }
}
