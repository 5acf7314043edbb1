//! The job journal: one fsynced JSON line for every output, written before the
//! output's temp file is renamed to its final name.
//!
//! The journal is what makes the on-disk state self-describing: which parts (and
//! so which batches) each output consumed, and the output's size, record count
//! and checksum. A line that does not end in `\n` was torn by a crash before its
//! fsync completed, and so before its output was renamed: readers ignore it.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::layout::{FileKind, JobLayout};
use crate::report::JobOutput;

/// One journal line: an aggregation step and the parts it consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The kind of the parts.
    pub kind: FileKind,
    /// The output made from them; `None` when every part was empty and was
    /// dropped without an output.
    pub output: Option<JobOutput>,
    /// Names of the consumed parts.
    pub parts: Vec<String>,
}

/// Appends `entry` to the journal at `path` and makes it durable.
pub fn append(path: &Path, entry: &JournalEntry) -> Result<()> {
    let mut line = serde_json::to_vec(entry).expect("journal entries always serialise");
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .at("open journal", path)?;
    file.write_all(&line).at("write journal", path)?;
    file.sync_data().at("fsync journal", path)
}

/// Every complete entry of the journal at `path`; none when it does not exist.
pub fn read(path: &Path) -> Result<Vec<JournalEntry>> {
    read_as(path)
}

/// Every complete line of the journal, read as `T` (a view that skips the
/// fields it does not name: a line may list tens of thousands of parts).
fn read_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("open journal", path, e)),
    };
    let mut entries = Vec::new();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .at("read journal", path)?
            == 0
        {
            break;
        }
        if line.last() != Some(&b'\n') {
            log::warn!("{}: ignoring a torn last line", path.display());
            break;
        }
        let entry = serde_json::from_slice(&line).map_err(|e| Error::JobDirectory {
            path: path.to_owned(),
            reason: format!(
                "journal line {} is not a journal entry: {e}",
                entries.len() + 1
            ),
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
    }
    let mut latest = std::collections::BTreeMap::new();
    for output in read_as::<OutputOnly>(&layout.journal())?
        .into_iter()
        .filter_map(|e| e.output)
    {
        let number = layout.parse_output_name(&output.file).map_or(0, |(_, n)| n);
        latest.insert((output.kind, number), output);
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

    fn entry(n: u32) -> JournalEntry {
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
            parts: vec!["tmp_000001.ndjson".into()],
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
    fn a_garbled_line_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".journal");
        std::fs::write(&path, b"not json\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains(".journal") && err.contains("line 1"), "{err}");
    }
}
