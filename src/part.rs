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
//! the batches whose parts were still waiting (see [`crate::recovery`]). Not
//! fsyncing parts halves what the disk has to take: most parts are combined
//! and deleted before the kernel ever writes them out.
//!
//! Appends go through a buffer into the page cache and cost microseconds, so
//! fetchers write records inline, and [`PartWriter::complete`] writes out the
//! rest on the same thread, before a blocking thread runs
//! [`CompletePart::finish`] (fsync, rename), the slow part. Everything the
//! writer allocated (its buffer, its path) is thus freed on the thread that
//! allocated it, and a [`CompletePart`] holds nothing on the heap: glibc
//! returns a block freed by another thread to the arena it came from, or
//! keeps it in that thread's cache for the thread's next allocations, and
//! over a million batches such frees spread the fetchers' arenas (at 7.5 s
//! into the 1,000,000-beneficiary memory bench, each fetcher arbiter's arena
//! took about 480 KB when the buffer was freed on the blocking thread).
//!
//! The buffer grows with what it holds, up to 256 KiB, and is written
//! out whenever it reaches that: a part of a few KB touches a few KB of memory.
//! (A fixed 256 KiB `BufWriter` per part would, over a long job, leave every
//! page of every such buffer resident, since the allocator hands the freed
//! buffers out again at shifting offsets.)

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::fault::fault_point;
use crate::layout::{FileKind, JobLayout};

/// The buffer of a part file is written out once it holds this much.
const PART_BUFFER: usize = 256 * 1024;

/// The buffer's first allocation: what a part of one small claim needs.
const FIRST_BUFFER: usize = 8 * 1024;

/// A part being written in `streaming/`.
#[derive(Debug)]
pub struct PartWriter {
    kind: FileKind,
    batch: u64,
    path: PathBuf,
    file: File,
    sync: bool,
    buffer: Vec<u8>,
    bytes: u64,
    records: u64,
}

/// A part whose records are all written out, still in `streaming/`: what a
/// blocking thread needs to finish it, and nothing on the heap (see the
/// module docs).
#[derive(Debug)]
pub struct CompletePart {
    kind: FileKind,
    batch: u64,
    file: File,
    sync: bool,
    bytes: u64,
    records: u64,
}

/// A part that reached `finished/` (its path: [`JobLayout::finished_part`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedPart {
    /// Its batch.
    pub batch: u64,
    /// Data or error.
    pub kind: FileKind,
    /// Its size.
    pub bytes: u64,
    /// Its lines.
    pub records: u64,
}

impl PartWriter {
    /// Creates (or truncates: a leftover of an earlier attempt is replaced) the
    /// part of `kind` for `batch` in `streaming/`.
    pub fn create(layout: &JobLayout, batch: u64, kind: FileKind) -> Result<Self> {
        let path = layout.streaming_part(batch, kind);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at("create part", &path)?;
        Ok(PartWriter {
            kind,
            batch,
            path,
            file,
            sync: layout.sync_parts(),
            buffer: Vec::new(),
            bytes: 0,
            records: 0,
        })
    }

    /// Appends one record and its newline. `record` must not contain `\n`.
    pub fn write_record(&mut self, record: &[u8]) -> Result<()> {
        debug_assert!(!record.contains(&b'\n'), "a record is one line");
        fault_point!("part::write", &self.path);
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(FIRST_BUFFER.max(record.len() + 1));
        }
        self.buffer.extend_from_slice(record);
        self.buffer.push(b'\n');
        if self.buffer.len() >= PART_BUFFER {
            self.flush()?;
        }
        self.bytes += record.len() as u64 + 1;
        self.records += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.file
            .write_all(&self.buffer)
            .at("write part", &self.path)?;
        self.buffer.clear();
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes out what is buffered (into the page cache) and frees the buffer
    /// and the path, on the calling thread; see the module docs.
    pub fn complete(mut self) -> Result<CompletePart> {
        self.flush()?;
        let PartWriter {
            kind,
            batch,
            file,
            sync,
            bytes,
            records,
            ..
        } = self;
        Ok(CompletePart {
            kind,
            batch,
            file,
            sync,
            bytes,
            records,
        })
    }

    /// Deletes the unfinished part. Blocking, but only an unlink.
    pub fn discard(self) {
        let PartWriter { path, file, .. } = self;
        drop(file);
        remove_unfinished(&path);
    }
}

impl CompletePart {
    /// Fsyncs the part (if the layout said so) and renames it into
    /// `finished/` of `layout`, the layout it was created in. Blocking.
    pub fn finish(self, layout: &JobLayout) -> Result<FinishedPart> {
        let CompletePart {
            kind,
            batch,
            file,
            sync,
            bytes,
            records,
        } = self;
        let path = layout.streaming_part(batch, kind);
        if sync {
            file.sync_data().at("fsync part", &path)?;
        }
        drop(file);
        fault_point!("part::synced", &path);
        fs::rename(&path, layout.finished_part(batch, kind)).at("finish part", &path)?;
        Ok(FinishedPart {
            batch,
            kind,
            bytes,
            records,
        })
    }

    /// Deletes the part, which never reaches `finished/`. Blocking, but only
    /// an unlink.
    pub fn discard(self, layout: &JobLayout) {
        drop(self.file);
        remove_unfinished(&layout.streaming_part(self.batch, self.kind));
    }
}

fn remove_unfinished(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        log::warn!("could not remove unfinished part {}: {e}", path.display());
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
        let done = part.complete().unwrap().finish(&layout).unwrap();
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
        let done = part.complete().unwrap().finish(&layout).unwrap();
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
        part.complete().unwrap().discard(&layout);
        assert_eq!(fs::read_dir(layout.streaming()).unwrap().count(), 0);
        assert_eq!(fs::read_dir(layout.finished()).unwrap().count(), 2);
    }

    #[test]
    fn a_complete_part_is_written_out_and_its_writer_freed_on_the_writing_thread() {
        let (_root, layout) = job_dirs();
        let (complete, usage) = crate::alloc_count::measure(|| {
            let mut part = PartWriter::create(&layout, 6, FileKind::Data).unwrap();
            part.write_record(b"{\"a\":1}").unwrap();
            assert_eq!(
                fs::read(layout.streaming_part(6, FileKind::Data)).unwrap(),
                b""
            );
            part.write_record(b"{\"a\":2}").unwrap();
            part.complete().unwrap()
        });
        assert!(usage.allocations > 0);
        assert_eq!(
            usage.retained_bytes, 0,
            "what the writer allocated is freed on its thread"
        );
        assert_eq!(
            fs::read(layout.streaming_part(6, FileKind::Data)).unwrap(),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
        let finishing = layout.clone();
        let done = std::thread::spawn(move || complete.finish(&finishing))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!((done.bytes, done.records), (16, 2));
        assert_eq!(
            fs::read(layout.finished_part(6, FileKind::Data)).unwrap(),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
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
