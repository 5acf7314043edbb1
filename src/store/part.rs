//! [`PartWriter`]: one part file of one batch, written in `streaming/` and moved
//! to `finished/` by `rename` only once it is complete.
//!
//! Whether it is also fsynced first depends on the job ([`JobLayout::sync_parts`]).
//! A parts-only job fsyncs its parts: they are its product. A job that
//! aggregates does not, on Linux: its outputs are fsynced before they are
//! journaled, which makes each batch durable once it is in an output; until
//! then a part lives in the page cache, which survives the death of the process
//! (a crash, `kill -9`) but not a restart of the machine. So the lock file
//! records the machine's boot id, and a resume after a restart fetches again
//! the batches whose parts were still waiting (see [`crate::store::recovery`]). Not
//! fsyncing parts halves what the disk has to take: most parts are combined
//! and deleted before the kernel ever writes them out.
//!
//! Appends into a buffer and the page cache cost microseconds, so fetchers
//! write records inline and [`PartWriter::complete`] writes out the rest on the
//! same thread; a blocking thread then runs [`CompletePart::finish`] (fsync,
//! rename). That thread neither allocates nor frees (the buffer is freed where
//! it was allocated, the paths come back inside [`FinishedPart`]): glibc gives
//! each allocating thread an arena it keeps, and blocks freed on another
//! thread spread the arenas they came from (docs/performance.md).
//!
//! The buffer grows with what it holds, up to 256 KiB, and is written out
//! whenever it reaches that: a part of a few KB touches a few KB of memory,
//! where fixed 256 KiB buffers, handed out again at shifting offsets, would
//! all stay resident.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::coordination::FencedPart;
use crate::error::{IoContext, Result};
use crate::fault::fault_point;
use crate::store::layout::{FileKind, JobLayout};

/// The buffer of a part file is written out once it holds this much.
const PART_BUFFER: usize = 256 * 1024;

/// The buffer's first allocation: what a part of one small claim needs.
const FIRST_BUFFER: usize = 8 * 1024;

/// A part being written in `streaming/`.
#[derive(Debug)]
pub struct PartWriter {
    part: PartFile,
    buffer: Vec<u8>,
}

/// A part's file and what was written to it.
#[derive(Debug)]
struct PartFile {
    kind: FileKind,
    batch: u64,
    paths: PartPaths,
    file: File,
    sync: bool,
    bytes: u64,
    records: u64,
}

/// Where a part is written, and where it goes once complete.
#[derive(Debug)]
struct PartPaths {
    streaming: PathBuf,
    finished: PathBuf,
}

/// A part whose records are all written out, still in `streaming/`: what a
/// blocking thread needs to finish it without allocating (see the module
/// docs).
#[derive(Debug)]
pub struct CompletePart(PartFile);

/// A part that reached `finished/`.
#[derive(Debug)]
pub struct FinishedPart {
    /// Its batch.
    pub batch: u64,
    /// Data or error.
    pub kind: FileKind,
    /// Its size.
    pub bytes: u64,
    /// Its lines (checked by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub records: u64,
    /// Kept to be freed by whoever made the writer.
    paths: PartPaths,
}

impl FinishedPart {
    /// Its path in `finished/` (read by a fault point, compiled only with
    /// `fail/failpoints`).
    #[allow(dead_code)]
    pub fn path(&self) -> &Path {
        &self.paths.finished
    }
}

impl PartWriter {
    /// Creates (or truncates: a leftover of an earlier attempt is replaced) the
    /// part of `kind` for `batch` in `streaming/`.
    pub fn create(layout: &JobLayout, batch: u64, kind: FileKind) -> Result<Self> {
        Self::create_at(layout, layout.streaming_part(batch, kind), batch, kind)
    }

    /// Creates (or truncates) the part of a batch claim in `streaming/` under its
    /// fenced name (`tmp_000042-t3.ndjson`); once committed it is finished into
    /// `finished/` under the batch's plain name, like any other part.
    pub fn create_fenced(layout: &JobLayout, part: FencedPart) -> Result<Self> {
        let path = layout.streaming().join(part.file_name());
        Self::create_at(layout, path, part.batch, part.kind)
    }

    fn create_at(layout: &JobLayout, path: PathBuf, batch: u64, kind: FileKind) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at("create part", &path)?;
        Ok(PartWriter {
            part: PartFile {
                kind,
                batch,
                paths: PartPaths {
                    streaming: path,
                    finished: layout.finished_part(batch, kind),
                },
                file,
                sync: layout.sync_parts(),
                bytes: 0,
                records: 0,
            },
            buffer: Vec::new(),
        })
    }

    /// Appends one record and its newline. `record` must not contain `\n`.
    pub fn write_record(&mut self, record: &[u8]) -> Result<()> {
        debug_assert!(!record.contains(&b'\n'), "a record is one line");
        fault_point!("part::write", &self.part.paths.streaming);
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(FIRST_BUFFER.max(record.len() + 1));
        }
        self.buffer.extend_from_slice(record);
        self.buffer.push(b'\n');
        if self.buffer.len() >= PART_BUFFER {
            self.flush()?;
        }
        self.part.bytes += record.len() as u64 + 1;
        self.part.records += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.part
            .file
            .write_all(&self.buffer)
            .at("write part", &self.part.paths.streaming)?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes out what is buffered (into the page cache) and frees the buffer
    /// on the calling thread; see the module docs.
    pub fn complete(mut self) -> Result<CompletePart> {
        self.flush()?;
        Ok(CompletePart(self.part))
    }

    /// Deletes the unfinished part. Blocking, but only an unlink.
    #[cfg(test)]
    pub fn discard(self) {
        CompletePart(self.part).discard();
    }
}

impl CompletePart {
    /// Fsyncs the part now, whatever the layout says, so that
    /// [`finish`](Self::finish) only renames it: a claimed batch's parts are
    /// made durable before the batch is committed. Blocking.
    pub fn sync(&mut self) -> Result<()> {
        let part = &mut self.0;
        part.file
            .sync_data()
            .at("fsync part", &part.paths.streaming)?;
        part.sync = false;
        Ok(())
    }

    /// The part's size in bytes.
    pub fn bytes(&self) -> u64 {
        self.0.bytes
    }

    /// Fsyncs the part (if the layout said so when it was created and
    /// [`sync`](Self::sync) did not), closes it and renames it into
    /// `finished/`. Blocking; allocates nothing but an error.
    pub fn finish(self) -> Result<FinishedPart> {
        let PartFile {
            kind,
            batch,
            paths,
            file,
            sync,
            bytes,
            records,
        } = self.0;
        if sync {
            file.sync_data().at("fsync part", &paths.streaming)?;
        }
        drop(file);
        fault_point!("part::synced", &paths.streaming);
        fs::rename(&paths.streaming, &paths.finished).at("finish part", &paths.streaming)?;
        Ok(FinishedPart {
            batch,
            kind,
            bytes,
            records,
            paths,
        })
    }

    /// Deletes the part, which never reaches `finished/`. Blocking, but only
    /// an unlink.
    pub fn discard(self) {
        let PartFile { paths, file, .. } = self.0;
        drop(file);
        if let Err(e) = fs::remove_file(&paths.streaming) {
            log::warn!(
                "could not remove unfinished part {}: {e}",
                paths.streaming.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job layout in a temp directory, `streaming/` and `finished/` made.
    fn job_dirs() -> (tempfile::TempDir, JobLayout) {
        let root = tempfile::tempdir().unwrap();
        let layout = JobLayout::new(root.path().join("J"), "streaming", "finished", "Z9000");
        fs::create_dir_all(layout.streaming()).unwrap();
        fs::create_dir_all(layout.finished()).unwrap();
        (root, layout)
    }

    #[test]
    fn a_part_moves_to_finished_only_when_finished() {
        let (_root, layout) = job_dirs();
        let mut part = PartWriter::create(&layout, 3, FileKind::Error).unwrap();
        part.write_record(b"{\"resourceType\":\"OperationOutcome\"}")
            .unwrap();
        assert!(layout.streaming_part(3, FileKind::Error).exists());
        assert!(!layout.finished_part(3, FileKind::Error).exists());
        let done = part.complete().unwrap().finish().unwrap();
        assert_eq!((done.batch, done.kind), (3, FileKind::Error));
        assert_eq!((done.bytes, done.records), (36, 1));
        assert!(!layout.streaming_part(3, FileKind::Error).exists());
        assert_eq!(
            fs::read(layout.finished_part(3, FileKind::Error))
                .unwrap()
                .len(),
            36
        );

        // Records of every size, across several buffer flushes, arrive whole.
        let mut part = PartWriter::create(&layout, 5, FileKind::Data).unwrap();
        let records: Vec<Vec<u8>> = (0..40)
            .map(|i| vec![b'a' + (i % 26) as u8; 1 + i * i * 97])
            .collect();
        for record in &records {
            part.write_record(record).unwrap();
        }
        let done = part.complete().unwrap().finish().unwrap();
        let expected: Vec<u8> = records
            .iter()
            .flat_map(|r| [&r[..], b"\n"].concat())
            .collect();
        assert!(expected.len() > 2 * PART_BUFFER);
        assert_eq!(done.bytes, expected.len() as u64);
        assert_eq!(
            fs::read(layout.finished_part(5, FileKind::Data)).unwrap(),
            expected
        );

        let part = PartWriter::create(&layout, 4, FileKind::Data).unwrap();
        part.discard();
        let mut part = PartWriter::create(&layout, 7, FileKind::Data).unwrap();
        part.write_record(b"{}").unwrap();
        part.complete().unwrap().discard();
        assert_eq!(fs::read_dir(layout.streaming()).unwrap().count(), 0);
        assert_eq!(fs::read_dir(layout.finished()).unwrap().count(), 2);
    }

    #[test]
    fn a_part_is_finished_on_another_thread_without_allocating_or_freeing() {
        let (_root, layout) = job_dirs();
        let mut part = PartWriter::create(&layout, 6, FileKind::Data).unwrap();
        part.write_record(b"{\"a\":1}").unwrap();
        assert_eq!(
            fs::read(layout.streaming_part(6, FileKind::Data)).unwrap(),
            b""
        );
        part.write_record(b"{\"a\":2}").unwrap();
        let (complete, completing) = crate::alloc_count::measure(|| part.complete().unwrap());
        assert_eq!(
            (completing.allocations, completing.deallocations),
            (0, 1),
            "the buffer is freed by the writer's thread"
        );
        assert_eq!(
            fs::read(layout.streaming_part(6, FileKind::Data)).unwrap(),
            b"{\"a\":1}\n{\"a\":2}\n"
        );

        let (done, finishing) =
            std::thread::spawn(move || crate::alloc_count::measure(|| complete.finish().unwrap()))
                .join()
                .unwrap();
        assert_eq!(
            (finishing.allocations, finishing.deallocations),
            (0, 0),
            "the finishing thread neither allocates nor frees"
        );
        assert_eq!((done.bytes, done.records), (16, 2));
        assert_eq!(done.path(), layout.finished_part(6, FileKind::Data));
        assert_eq!(fs::read(done.path()).unwrap(), b"{\"a\":1}\n{\"a\":2}\n");

        let ((), dropping) = crate::alloc_count::measure(|| drop(done));
        assert_eq!(dropping.deallocations, 2, "its paths are freed here");
    }

    #[test]
    fn creating_in_a_missing_directory_names_the_path() {
        let root = tempfile::tempdir().unwrap();
        let layout = JobLayout::new(root.path().join("J"), "streaming", "finished", "Z9000");
        let err = PartWriter::create(&layout, 1, FileKind::Data)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("create part") && err.contains("streaming/tmp_000001.ndjson"),
            "{err}"
        );
    }
}
