//! Outputs are written with direct I/O (`O_DIRECT`) where the filesystem
//! allows it.
//!
//! A buffered write copies every byte into a page-cache page the kernel has to
//! find, allocate and later write back; for the outputs, which nobody reads
//! while the job runs, that copy is a large share of a job's CPU time. A
//! direct write hands the buffer to the device instead: no copy, no writeback
//! at fsync. It needs a buffer, offsets and lengths aligned to the device's
//! blocks ([`ALIGN`]), so the combine writes whole aligned buffers directly and
//! its last, shorter piece after [`end_direct`]. Where `O_DIRECT` is refused
//! (tmpfs, other systems) outputs are written through the page cache as before.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Alignment of direct writes: buffer address, file offset and length.
pub const ALIGN: usize = 4096;

/// Creates (or truncates) `path` for writing, with direct I/O if the
/// filesystem takes it.
pub fn create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut direct = options.clone();
        direct.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
        match direct.open(path) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {}
            opened => return opened,
        }
    }
    options.open(path)
}

/// Whether `file` writes directly.
pub fn is_direct(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::fcntl_getfl(file).is_ok_and(|flags| flags.contains(rustix::fs::OFlags::DIRECT))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Makes `file`'s later writes go through the page cache (for a last piece
/// of any length).
pub fn end_direct(file: &File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        let flags = fcntl_getfl(file)?;
        fcntl_setfl(file, flags.difference(OFlags::DIRECT))?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

/// A zeroed buffer of `len` bytes whose start is aligned to [`ALIGN`]: pages
/// mapped for it alone.
///
/// Mapped, not allocated: dropped, its pages go back to the system at once.
/// glibc would serve a buffer this large from the heap of the thread that asks
/// once a buffer of its size has been freed (it raises its threshold for
/// mapping to the size of the last mapped block freed), and keep it resident
/// there after it is freed.
#[derive(Debug)]
pub struct AlignedBuffer {
    pages: memmap2::MmapMut,
}

impl AlignedBuffer {
    /// `len` zero bytes, aligned; fails when the system has no memory to map.
    pub fn new(len: usize) -> io::Result<Self> {
        let pages = memmap2::MmapMut::map_anon(len)?;
        debug_assert!(is_aligned(&pages) || !len.is_multiple_of(ALIGN));
        Ok(AlignedBuffer { pages })
    }

    /// The aligned bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.pages
    }
}

/// Whether `buf` may be written directly: aligned start, whole blocks.
pub fn is_aligned(buf: &[u8]) -> bool {
    buf.as_ptr().align_offset(ALIGN) == 0 && buf.len().is_multiple_of(ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn direct_then_buffered_writes_make_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut file = create(&path).unwrap();
        let mut buffer = AlignedBuffer::new(2 * ALIGN).unwrap();
        let block = buffer.as_mut_slice();
        assert!(is_aligned(block));
        block.fill(b'a');
        file.write_all(block).unwrap();
        end_direct(&file).unwrap();
        assert!(!is_direct(&file));
        file.write_all(b"tail").unwrap();
        file.sync_all().unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), 2 * ALIGN + 4);
        assert!(written.ends_with(b"atail"));
    }
}
