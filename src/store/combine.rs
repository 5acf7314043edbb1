//! Combining parts into one output, crash-safely. Blocking code: the aggregator
//! runs it on `spawn_blocking` threads, never on an arbiter.
//!
//! One [`AggregationStep`] makes one output (or drops a group of empty parts):
//!
//! 1. **claim**: rename the parts into `finished/.claim-<kind>-<n>/`, fsync;
//! 2. **combine** them into the hidden temp output in the job directory through
//!    one 512 KiB buffer, written in writes of that size (faster than
//!    `copy_file_range` on Linux, see [`combine_parts`]), adding `\n` after a
//!    part that lacks one;
//! 3. **describe** the output (bytes, records, SHA-256) from each buffer before
//!    it is written: every byte passes through memory once; fsync;
//! 4. **journal** the output and its parts, fsync;
//! 5. **publish**: rename the temp output to its final name, fsync the directory;
//! 6. **release**: delete the claim directory (the parts of a large claim by
//!    several threads at once if deleting them waits on the device).
//!
//! A crash between any two steps leaves either the parts (in `finished/` or a
//! claim) or the published output, never both without a journal line saying so;
//! a resumed run completes or redoes the step. On error the temp output is
//! removed and the parts stay claimed, so no byte is lost.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::fault::fault_point;
use crate::report::JobOutput;
use crate::store::direct_io::{self, AlignedBuffer};
use crate::store::journal::{self, JournalEntry};
use crate::store::layout::{FileKind, JobLayout};
use crate::store::part_names::PartNames;
use crate::store::publish_order::PublishOrder;
use crate::store::untrusted;

/// Buffer size for reading outputs back to checksum them.
const DESCRIBE_BUFFER: usize = 1 << 20;

/// Buffer of [`combine_parts`]: the size of its writes into the output. A
/// larger one gained little and costs memory in every step combining at once.
const COMBINE_BUFFER: usize = 1 << 19;

/// Buffer of a step that starts while others combine (see
/// [`AggregationStep::overlapping`]): steps at once, where a job's memory
/// peaks, map less, and a step that runs alone still writes in 512 KiB.
const OVERLAPPING_BUFFER: usize = COMBINE_BUFFER / 2;

/// Buffer between the gzip encoder and a gzipped output.
const GZIP_OUT_BUFFER: usize = 256 * 1024;

/// Threads that delete the parts of a claim whose deletions wait on the
/// device (see [`release`]).
const RELEASE_THREADS: usize = 8;

/// Parts of a claim deleted, and timed, before [`release`] decides whether
/// the rest needs threads.
const RELEASE_PROBE: usize = 64;

/// A deletion slower than this waited on the device: a deletion from the page
/// cache takes a few microseconds, one that frees blocks on the device about
/// a hundred.
const SLOW_DELETE: Duration = Duration::from_micros(40);

/// One aggregation: a group of parts of one kind and the output number they get.
#[derive(Debug, Clone)]
pub struct AggregationStep {
    /// The job's paths.
    pub layout: JobLayout,
    /// The kind of every part in the group.
    pub kind: FileKind,
    /// The output number; `None` when every part is empty and is only dropped.
    pub number: Option<u32>,
    /// The parts, by their names in `finished/`.
    pub parts: PartNames,
    /// Publish only in number order with the other steps sharing it (see
    /// [`PublishOrder`]); `None` when no other step runs at the same time.
    pub order: Option<Arc<PublishOrder>>,
    /// Other steps were combining when this one started: it maps half the
    /// combine buffer.
    pub overlapping: bool,
}

impl AggregationStep {
    /// Runs the step; returns the output made, or `None` for a dropped group.
    ///
    /// `cancel` is checked between parts: a cancelled step removes its temp
    /// output and returns [`Error::Cancelled`].
    pub fn run(&self, cancel: &AtomicBool) -> Result<Option<JobOutput>> {
        let Some(number) = self.number else {
            self.drop_empty_parts()?;
            return Ok(None);
        };
        // Mapped before any part moves, so that a system out of memory fails
        // the step with nothing claimed; its pages are touched by the combine.
        let size = if self.overlapping {
            OVERLAPPING_BUFFER
        } else {
            COMBINE_BUFFER
        };
        let buffer =
            AlignedBuffer::new(size).at("map the combine buffer for", self.layout.job_dir())?;
        let claim = self.claim(number)?;
        let claimed = self.parts.iter().map(|name| claim.join(&*name));
        let temp = self.layout.temp_output(self.kind, number);
        let result = self.make_output(number, claimed, &temp, cancel, buffer);
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        let output = result?;
        fault_point!("combine::published", &self.layout.output(self.kind, number));
        release(&claim, &self.parts)?;
        Ok(Some(output))
    }

    fn drop_empty_parts(&self) -> Result<()> {
        let entry = JournalEntry {
            kind: self.kind,
            output: None,
            parts: Cow::Borrowed(&self.parts),
            voids: None,
        };
        journal::append(&self.layout.journal(), &entry)?;
        for name in self.parts.iter() {
            let part = self.layout.finished().join(&*name);
            fs::remove_file(&part).at("remove empty part", &part)?;
        }
        Ok(())
    }

    /// Moves the parts into the claim directory; returns its path.
    fn claim(&self, number: u32) -> Result<PathBuf> {
        let claim = self.layout.claim_dir(self.kind, number);
        fs::create_dir(&claim).at("create claim", &claim)?;
        for name in self.parts.iter() {
            let part = self.layout.finished().join(&*name);
            fs::rename(&part, claim.join(&*name)).at("claim part", &part)?;
        }
        fsync_dir(&claim)?;
        fsync_dir(self.layout.finished())?;
        fault_point!("combine::claimed", &claim);
        Ok(claim)
    }

    fn make_output(
        &self,
        number: u32,
        claimed: impl IntoIterator<Item = PathBuf>,
        temp: &Path,
        cancel: &AtomicBool,
        // Unmapped once combined, not held while the output is synced,
        // journaled and published.
        mut buffer: AlignedBuffer,
    ) -> Result<JobOutput> {
        let (summary, compressed_bytes) = if self.layout.gzip() {
            let out = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(temp)
                .at("create output", temp)?;
            let buf = buffer.as_mut_slice();
            let (summary, out) = combine_gzipped_through(claimed, out, temp, cancel, buf)?;
            drop(buffer);
            fault_point!("combine::copied", temp);
            out.sync_all().at("fsync output", temp)?;
            let compressed = out.metadata().at("stat output", temp)?.len();
            (summary, Some(compressed))
        } else {
            let mut out = direct_io::create(temp).at("create output", temp)?;
            let mut summary = Summarizer::default();
            let buf = buffer.as_mut_slice();
            combine_through(claimed, &mut out, temp, cancel, buf, Some(&mut summary))?;
            drop(buffer);
            fault_point!("combine::copied", temp);
            out.sync_all().at("fsync output", temp)?;
            (summary.finish(), None)
        };
        let output = JobOutput {
            file: self.layout.output_name(self.kind, number),
            kind: self.kind,
            bytes: summary.bytes,
            records: summary.records,
            sha256: summary.sha256,
            compressed_bytes,
        };
        if let Some(order) = &self.order {
            order.wait_turn(self.kind, number, cancel)?;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        fault_point!("combine::synced", &self.layout.journal());
        journal::append(
            &self.layout.journal(),
            &JournalEntry {
                kind: self.kind,
                output: Some(output.clone()),
                parts: Cow::Borrowed(&self.parts),
                voids: None,
            },
        )?;
        let final_path = self.layout.output(self.kind, number);
        fault_point!("combine::journaled", &final_path);
        fs::rename(temp, &final_path).at("publish output", &final_path)?;
        fsync_dir(self.layout.job_dir())?;
        if let Some(order) = &self.order {
            order.published(self.kind, number);
        }
        Ok(output)
    }
}

/// Deletes a claim directory and the parts in it, once their output is
/// published. Parts already gone are fine (a resumed run may have deleted some).
///
/// A part still only in the page cache (parts are not fsynced in jobs that
/// aggregate, and most are deleted before writeback) is deleted in a few
/// microseconds. A part already on the device is not: ext4 frees its blocks,
/// and the deletion waits on the device. So the first [`RELEASE_PROBE`] parts
/// are deleted on the calling thread and timed; only if they took longer than
/// [`SLOW_DELETE`] each is the rest spread over [`RELEASE_THREADS`] threads,
/// which overlaps the waits. Threads for fast deletions would only contend for
/// the claim directory's lock and leave allocator memory behind.
fn release(claim: &Path, parts: &PartNames) -> Result<()> {
    remove_parts(claim, parts, SLOW_DELETE)?;
    fs::remove_dir_all(claim).at("remove claim", claim)
}

/// Deletes the parts of [`release`], on several threads if the probed
/// deletions took longer than `slow` each; returns the threads used.
fn remove_parts(claim: &Path, parts: &PartNames, slow: Duration) -> Result<usize> {
    let dir = ClaimDir::open(claim)?;
    let remove = |index: usize| parts.with_name(index, |name| dir.remove(name));
    let probed = parts.len().min(RELEASE_PROBE);
    let started = Instant::now();
    (0..probed).try_for_each(remove)?;
    let rest = probed..parts.len();
    let waits_on_device = started.elapsed() > slow.saturating_mul(probed as u32);
    if waits_on_device && rest.len() >= RELEASE_THREADS {
        let share = rest.len().div_ceil(RELEASE_THREADS);
        std::thread::scope(|scope| {
            let workers: Vec<_> = rest
                .clone()
                .step_by(share)
                .map(|from| {
                    let to = (from + share).min(rest.end);
                    scope.spawn(move || (from..to).try_for_each(remove))
                })
                .collect();
            let threads = workers.len();
            workers.into_iter().try_for_each(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })?;
            Ok(threads)
        })
    } else {
        rest.into_iter().try_for_each(remove)?;
        Ok(1)
    }
}

/// A claim directory whose parts are deleted by name.
///
/// On Linux the directory is opened once and each part is removed relative to
/// it (`unlinkat`), its name made on the stack: no path is built or resolved
/// per part, and nothing is allocated. That keeps the threads of
/// [`remove_parts`] small: glibc gives every thread that allocates an arena of
/// its own, and the arenas stay resident.
struct ClaimDir<'a> {
    path: &'a Path,
    #[cfg(target_os = "linux")]
    dir: File,
}

impl<'a> ClaimDir<'a> {
    fn open(path: &'a Path) -> Result<Self> {
        Ok(ClaimDir {
            path,
            #[cfg(target_os = "linux")]
            dir: File::open(path).at("open claim", path)?,
        })
    }

    /// Deletes the part `name`; a part already gone is fine.
    fn remove(&self, name: &str) -> Result<()> {
        #[cfg(target_os = "linux")]
        let removed = rustix::fs::unlinkat(&self.dir, name, rustix::fs::AtFlags::empty())
            .map_err(io::Error::from);
        #[cfg(not(target_os = "linux"))]
        let removed = fs::remove_file(self.path.join(name));
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("remove claim", self.path.join(name), e))
            }
            _ => Ok(()),
        }
    }
}

/// Appends every part to `out`, adding a newline after a non-empty part that
/// does not end with one. Returns the bytes written.
///
/// The bytes go through one 512 KiB buffer in user space and reach `out`
/// in writes of that size, small parts gathered into one write. On Linux that
/// beats `copy_file_range` file to file: without reflinks (ext4) it is a
/// splice through a pipe of 64 KiB, and the page cache takes a few large
/// writes much faster than many small ones (`benches/combine.rs`). A part
/// that is shorter or longer than its size when opened is an error, as it
/// would be from a writer that did not finish.
pub fn combine_parts<P: AsRef<Path>>(
    parts: impl IntoIterator<Item = P>,
    out: &mut File,
    out_path: &Path,
    cancel: &AtomicBool,
) -> Result<u64> {
    let buf = &mut vec![0; COMBINE_BUFFER];
    combine_through(parts, out, out_path, cancel, buf, None)
}

/// [`combine_parts`] through `buf`, feeding what it writes to `summary`.
///
/// When `out` writes directly (see [`direct_io`]), whole buffers are written
/// directly and the last piece through the page cache; a buffer that is not
/// aligned for direct I/O turns it off from the start.
fn combine_through<P: AsRef<Path>>(
    parts: impl IntoIterator<Item = P>,
    out: &mut File,
    out_path: &Path,
    cancel: &AtomicBool,
    buf: &mut [u8],
    mut summary: Option<&mut Summarizer>,
) -> Result<u64> {
    let mut direct = direct_io::is_direct(out);
    if direct && !direct_io::is_aligned(buf) {
        direct_io::end_direct(out).at("combine into", out_path)?;
        direct = false;
    }
    let mut emit = |out: &mut File, bytes: &[u8]| {
        if let Some(summary) = summary.as_deref_mut() {
            summary.update(bytes);
        }
        out.write_all(bytes).at("combine into", out_path)
    };
    let mut filled = 0;
    let mut written = 0;
    for part in parts {
        let part = part.as_ref();
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let (mut file, len) = untrusted::open_regular_or_refuse("combine part", part)?;
        if len == 0 {
            continue;
        }
        let mut left = len;
        let mut last = b'\n';
        loop {
            if filled == buf.len() {
                emit(out, buf)?;
                filled = 0;
            }
            // One byte more than expected: a short read then proves the end of
            // the part without another call, a long one shows that it grew.
            let want = (buf.len() - filled).min(usize::try_from(left + 1).unwrap_or(usize::MAX));
            let n = match file.read(&mut buf[filled..filled + want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read part", part, e)),
            };
            if n as u64 > left {
                return Err(changed(part, len + 1, len));
            }
            if n > 0 {
                last = buf[filled + n - 1];
            }
            filled += n;
            left -= n as u64;
            if n == 0 || (left == 0 && n < want) {
                break;
            }
        }
        if left > 0 {
            return Err(changed(part, len - left, len));
        }
        written += len;
        if last != b'\n' {
            if filled == buf.len() {
                emit(out, buf)?;
                filled = 0;
            }
            buf[filled] = b'\n';
            filled += 1;
            written += 1;
        }
    }
    if direct {
        let whole = filled - filled % direct_io::ALIGN;
        emit(out, &buf[..whole])?;
        direct_io::end_direct(out).at("combine into", out_path)?;
        emit(out, &buf[whole..filled])?;
    } else {
        emit(out, &buf[..filled])?;
    }
    Ok(written)
}

/// A part whose size changed while it was combined.
fn changed(part: &Path, copied: u64, len: u64) -> Error {
    Error::io(
        "combine",
        part,
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("part changed while combining: {copied} of {len} bytes"),
        ),
    )
}

/// What an output holds: NDJSON bytes, lines and their SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// NDJSON bytes (uncompressed).
    pub bytes: u64,
    /// Lines.
    pub records: u64,
    /// SHA-256 of the NDJSON bytes, lower-case hex.
    pub sha256: String,
}

/// Builds a [`Summary`] from the bytes it is fed.
#[derive(Default)]
struct Summarizer {
    hasher: Sha256,
    bytes: u64,
    records: u64,
}

impl Summarizer {
    fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        self.records += memchr::memchr_iter(b'\n', chunk).count() as u64;
    }

    fn finish(self) -> Summary {
        Summary {
            bytes: self.bytes,
            records: self.records,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

/// Reads `reader` to its end through `buf`, summarizing what it yields.
fn summarize(mut reader: impl Read, path: &Path, buf: &mut [u8]) -> Result<Summary> {
    let mut summary = Summarizer::default();
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(summary.finish()),
            Ok(n) => summary.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read output", path, e)),
        }
    }
}

/// Size, line count and SHA-256 of an NDJSON file (a regular file only).
pub fn describe(path: &Path) -> Result<Summary> {
    let (file, _) = untrusted::open_regular_or_refuse("read output", path)?;
    describe_file(file, path, false)
}

/// The same of a gzipped NDJSON file's content.
pub fn describe_gzipped(path: &Path) -> Result<Summary> {
    let (file, _) = untrusted::open_regular_or_refuse("read output", path)?;
    describe_file(file, path, true)
}

/// [`describe`] or [`describe_gzipped`] of `file`, already opened (and
/// checked) from `path`.
pub fn describe_file(file: File, path: &Path, gzipped: bool) -> Result<Summary> {
    let buf = &mut vec![0; DESCRIBE_BUFFER];
    if gzipped {
        summarize(MultiGzDecoder::new(file), path, buf)
    } else {
        summarize(file, path, buf)
    }
}

/// Appends every part to a gzip stream in `out`, repairing missing newlines as
/// [`combine_parts`] does, and summarizes the uncompressed bytes on the way.
/// Returns the summary and the finished file (not yet fsynced).
pub fn combine_gzipped<P: AsRef<Path>>(
    parts: impl IntoIterator<Item = P>,
    out: File,
    out_path: &Path,
    cancel: &AtomicBool,
) -> Result<(Summary, File)> {
    combine_gzipped_through(parts, out, out_path, cancel, &mut vec![0; COMBINE_BUFFER])
}

/// [`combine_gzipped`] reading through `buf`.
fn combine_gzipped_through<P: AsRef<Path>>(
    parts: impl IntoIterator<Item = P>,
    out: File,
    out_path: &Path,
    cancel: &AtomicBool,
    buf: &mut [u8],
) -> Result<(Summary, File)> {
    let mut encoder = GzEncoder::new(
        io::BufWriter::with_capacity(GZIP_OUT_BUFFER, out),
        Compression::default(),
    );
    let mut summary = Summarizer::default();
    for part in parts {
        let part = part.as_ref();
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let (mut file, _) = untrusted::open_regular_or_refuse("combine part", part)?;
        let mut last = b'\n';
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read part", part, e)),
            };
            summary.update(&buf[..n]);
            encoder.write_all(&buf[..n]).at("combine into", out_path)?;
            last = buf[n - 1];
        }
        if last != b'\n' {
            summary.update(b"\n");
            encoder.write_all(b"\n").at("combine into", out_path)?;
        }
    }
    let out = encoder
        .finish()
        .at("combine into", out_path)?
        .into_inner()
        .map_err(|e| e.into_error())
        .at("combine into", out_path)?;
    Ok((summary.finish(), out))
}

/// Makes a directory's entries (renames, creations) durable.
pub fn fsync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .at("fsync directory", path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_count;

    fn setup() -> (tempfile::TempDir, JobLayout) {
        let root = tempfile::tempdir().unwrap();
        let layout = JobLayout::new(root.path().join("J"), "streaming", "finished", "Z9000");
        fs::create_dir_all(layout.finished()).unwrap();
        (root, layout)
    }

    fn step(
        layout: &JobLayout,
        kind: FileKind,
        number: Option<u32>,
        parts: Vec<PathBuf>,
    ) -> AggregationStep {
        AggregationStep {
            layout: layout.clone(),
            kind,
            number,
            parts: PartNames::from_names(
                parts
                    .iter()
                    .map(|p| p.file_name().unwrap().to_str().unwrap()),
            ),
            order: None,
            overlapping: false,
        }
    }

    fn part(layout: &JobLayout, name: &str, body: &[u8]) -> PathBuf {
        let p = layout.finished().join(name);
        fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn combines_repairs_newlines_and_journals() {
        let (_root, layout) = setup();
        let parts = vec![
            part(&layout, "tmp_000001.ndjson", b"{\"a\":1}\n{\"a\":2}"),
            part(&layout, "tmp_000002.ndjson", b""),
            part(&layout, "tmp_000003.ndjson", b"\xff\xfe raw bytes\n"),
        ];
        let step = step(&layout, FileKind::Data, Some(1), parts);
        let output = step.run(&AtomicBool::new(false)).unwrap().unwrap();
        let body = fs::read(layout.output(FileKind::Data, 1)).unwrap();
        assert_eq!(body, b"{\"a\":1}\n{\"a\":2}\n\xff\xfe raw bytes\n");
        assert_eq!(output.file, "Z9000_0001.ndjson");
        assert_eq!((output.bytes, output.records), (body.len() as u64, 3));
        assert_eq!(output.sha256, hex::encode(Sha256::digest(&body)));
        assert!(!layout.claim_dir(FileKind::Data, 1).exists());
        assert!(!layout.temp_output(FileKind::Data, 1).exists());
        assert_eq!(fs::read_dir(layout.finished()).unwrap().count(), 0);
        let journal = journal::read(&layout.journal()).unwrap();
        assert_eq!(journal.len(), 1);
        assert_eq!(journal[0].output.as_ref(), Some(&output));
        assert_eq!(journal[0].parts.len(), 3);
    }

    /// `len` bytes of short lines; the last byte is a newline or not.
    fn lines(len: usize, ends_with_newline: bool) -> Vec<u8> {
        let mut body: Vec<u8> = (0..len)
            .map(|i| {
                if i % 61 == 60 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        if let Some(last) = body.last_mut() {
            *last = if ends_with_newline { b'\n' } else { b'z' };
        }
        body
    }

    #[test]
    fn combining_is_exact_across_buffer_boundaries() {
        let cap = COMBINE_BUFFER;
        let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
            (
                "one byte of room left",
                vec![lines(cap - 1, true), lines(10, false)],
            ),
            (
                "an added newline at the buffer's end",
                vec![lines(cap - 1, false), lines(5, true)],
            ),
            (
                "a part of exactly the buffer",
                vec![lines(cap, false), lines(cap, true)],
            ),
            (
                "parts larger than the buffer",
                vec![lines(3 * cap + 7, true), lines(2 * cap, false)],
            ),
            (
                "small and empty parts",
                vec![vec![], lines(1, false), vec![], lines(2, true)],
            ),
            ("only empty parts", vec![vec![], vec![]]),
        ];
        for (name, bodies) in cases {
            let (_root, layout) = setup();
            let mut expected = Vec::new();
            let mut parts = Vec::new();
            for (i, body) in bodies.iter().enumerate() {
                parts.push(part(&layout, &format!("tmp_{i:06}.ndjson"), body));
                expected.extend_from_slice(body);
                if body.last().is_some_and(|&b| b != b'\n') {
                    expected.push(b'\n');
                }
            }
            let out_path = layout.job_dir().join("out");
            let mut out = File::create(&out_path).unwrap();
            let written =
                combine_parts(&parts, &mut out, &out_path, &AtomicBool::new(false)).unwrap();
            drop(out);
            assert_eq!(written, expected.len() as u64, "{name}");
            assert!(
                fs::read(&out_path).unwrap() == expected,
                "{name}: bytes differ"
            );
            if expected.is_empty() {
                continue;
            }
            // The same parts through a step: written directly where the
            // filesystem allows it, checksummed on the way; with the whole
            // buffer, then with the half of a step that overlaps others.
            for (number, overlapping) in [(1, false), (2, true)] {
                let parts = bodies
                    .iter()
                    .enumerate()
                    .map(|(i, body)| part(&layout, &format!("tmp_{i:06}.ndjson"), body))
                    .collect();
                let mut step = step(&layout, FileKind::Data, Some(number), parts);
                step.overlapping = overlapping;
                let output = step.run(&AtomicBool::new(false)).unwrap().unwrap();
                let published = fs::read(layout.output(FileKind::Data, number)).unwrap();
                assert!(published == expected, "{name}, {number}: step bytes differ");
                assert_eq!(output.bytes, expected.len() as u64, "{name}, {number}");
                assert_eq!(
                    output.sha256,
                    hex::encode(Sha256::digest(&expected)),
                    "{name}, {number}"
                );
                let lines = expected.iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(output.records, lines, "{name}, {number}");
            }
        }
    }

    #[test]
    fn a_large_claim_is_released_completely() {
        let (_root, layout) = setup();
        let count = RELEASE_PROBE * 3 + 1;
        let parts: Vec<PathBuf> = (0..count)
            .map(|i| {
                part(
                    &layout,
                    &format!("tmp_{i:06}.ndjson"),
                    format!("{i}\n").as_bytes(),
                )
            })
            .collect();
        let step = step(&layout, FileKind::Data, Some(1), parts);
        let output = step.run(&AtomicBool::new(false)).unwrap().unwrap();
        assert_eq!(output.records, count as u64);
        assert!(!layout.claim_dir(FileKind::Data, 1).exists());
        assert_eq!(fs::read_dir(layout.finished()).unwrap().count(), 0);
    }

    #[test]
    fn parts_are_deleted_on_one_thread_or_on_several() {
        for (slow, threads) in [(Duration::MAX, 1), (Duration::ZERO, RELEASE_THREADS)] {
            let (_root, layout) = setup();
            let claim = layout.claim_dir(FileKind::Data, 1);
            fs::create_dir(&claim).unwrap();
            // Not a multiple of the threads' share; one part is already gone.
            let count = RELEASE_PROBE + RELEASE_THREADS * 5 + 3;
            let mut names = PartNames::new(FileKind::Data);
            for batch in 0..count as u32 {
                names.push_batch(batch);
                if batch != 70 {
                    fs::write(claim.join(&*names.name(names.len() - 1)), "x\n").unwrap();
                }
            }
            assert_eq!(remove_parts(&claim, &names, slow).unwrap(), threads);
            assert_eq!(
                fs::read_dir(&claim).unwrap().count(),
                0,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn deleting_a_claimed_part_allocates_nothing_on_linux() {
        let (_root, layout) = setup();
        let claim = layout.claim_dir(FileKind::Error, 1);
        fs::create_dir(&claim).unwrap();
        let names = PartNames::from_names(["tmp_000007_error.ndjson", "tmp_x_error.ndjson"]);
        for name in names.iter() {
            fs::write(claim.join(&*name), "x\n").unwrap();
        }
        let dir = ClaimDir::open(&claim).unwrap();
        let ((), usage) = alloc_count::measure(|| {
            for index in 0..names.len() {
                names.with_name(index, |name| dir.remove(name)).unwrap();
            }
            // A part already gone is fine.
            names.with_name(0, |name| dir.remove(name)).unwrap();
        });
        assert_eq!(fs::read_dir(&claim).unwrap().count(), 0);
        if cfg!(target_os = "linux") {
            assert_eq!(usage.allocations, 0, "allocations while deleting");
        }
    }

    #[test]
    fn empty_groups_are_dropped_without_output() {
        let (_root, layout) = setup();
        let parts = vec![part(&layout, "tmp_000001_error.ndjson", b"")];
        let step = step(&layout, FileKind::Error, None, parts);
        assert_eq!(step.run(&AtomicBool::new(false)).unwrap(), None);
        assert_eq!(
            fs::read_dir(layout.job_dir()).unwrap().count(),
            2,
            "finished/ and .journal"
        );
        assert!(journal::read(&layout.journal()).unwrap()[0]
            .output
            .is_none());
    }

    #[test]
    fn a_cancelled_step_leaves_no_temp_and_keeps_parts() {
        let (_root, layout) = setup();
        let parts = vec![part(&layout, "tmp_000001.ndjson", b"x\n")];
        let step = step(&layout, FileKind::Data, Some(1), parts);
        let err = step.run(&AtomicBool::new(true)).unwrap_err();
        assert!(matches!(err, Error::Cancelled));
        assert!(!layout.temp_output(FileKind::Data, 1).exists());
        assert!(!layout.output(FileKind::Data, 1).exists());
        assert!(layout
            .claim_dir(FileKind::Data, 1)
            .join("tmp_000001.ndjson")
            .exists());
    }

    #[test]
    fn a_missing_part_names_its_path() {
        let (_root, layout) = setup();
        let parts = vec![layout.finished().join("tmp_000009.ndjson")];
        let step = step(&layout, FileKind::Data, Some(1), parts);
        let err = step.run(&AtomicBool::new(false)).unwrap_err().to_string();
        assert!(
            err.contains("claim part") && err.contains("tmp_000009.ndjson"),
            "{err}"
        );
    }

    #[test]
    fn gzipped_outputs_describe_the_uncompressed_ndjson() {
        let (_root, layout) = setup();
        let layout = layout.with_gzip(true);
        let parts: Vec<PathBuf> = [&b"{\"a\":1}\n"[..], b"", b"{\"b\":2}"]
            .iter()
            .enumerate()
            .map(|(i, body)| part(&layout, &format!("tmp_{i:06}.ndjson"), body))
            .collect();
        let step = step(&layout, FileKind::Data, Some(1), parts);
        let output = step.run(&AtomicBool::new(false)).unwrap().unwrap();
        assert_eq!(output.file, "Z9000_0001.ndjson.gz");
        let path = layout.output(FileKind::Data, 1);
        let mut plain = Vec::new();
        io::Read::read_to_end(
            &mut MultiGzDecoder::new(File::open(&path).unwrap()),
            &mut plain,
        )
        .unwrap();
        assert_eq!(plain, b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!((output.bytes, output.records), (16, 2));
        assert_eq!(output.sha256, hex::encode(Sha256::digest(&plain)));
        assert_eq!(
            output.compressed_bytes,
            Some(fs::metadata(&path).unwrap().len())
        );
        assert_eq!(describe_gzipped(&path).unwrap().sha256, output.sha256);
    }
}
