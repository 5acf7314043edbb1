//! Opening what a job directory holds without trusting it.
//!
//! A job directory is shared: other processes' parts, hand edits, a crash's
//! leftovers and hostile links can sit under any name. So a file is opened
//! once, without following a link and without waiting on a FIFO, the
//! descriptor is checked to be a regular file, and that descriptor — never the
//! path again — is what is read. What is not a regular file is told apart by
//! [`Opened::NotRegular`], so that callers set it aside and name it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// What [`open_regular`] found at a path.
#[derive(Debug)]
pub enum Opened {
    /// A regular file, opened for reading, and its length when opened.
    Regular(File, u64),
    /// Something that must not be read as a file of ours; says what it is.
    NotRegular(&'static str),
    /// Nothing is there.
    Missing,
}

/// Opens `path` for reading if, and only if, it is a regular file.
///
/// A symbolic link is not followed, a FIFO is not waited on, and a directory,
/// socket or device is not read: each is [`Opened::NotRegular`], as is a file
/// this process may not read. Other failures are errors naming the path.
pub fn open_regular(path: &Path) -> Result<Opened> {
    let file = match open_no_follow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => {
            return match refusal(&e) {
                Some(what) => Ok(Opened::NotRegular(what)),
                None => Err(Error::io("open", path, e)),
            }
        }
    };
    let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
    if meta.is_file() {
        Ok(Opened::Regular(file, meta.len()))
    } else {
        Ok(Opened::NotRegular(describe_type(&meta.file_type())))
    }
}

/// Like [`open_regular`], but anything other than a regular file is an
/// error naming the path and what it is (`op` says what was being done).
pub fn open_regular_or_refuse(op: &'static str, path: &Path) -> Result<(File, u64)> {
    match open_regular(path)? {
        Opened::Regular(file, len) => Ok((file, len)),
        Opened::NotRegular(what) => Err(not_regular(op, path, what)),
        Opened::Missing => Err(Error::io(
            op,
            path,
            io::Error::from(io::ErrorKind::NotFound),
        )),
    }
}

/// The error for an entry that is not a regular file.
pub fn not_regular(op: &'static str, path: &Path, what: &str) -> Error {
    Error::JobDirectory {
        path: path.to_owned(),
        reason: format!("{op}: is {what}, not a regular file; refusing to read it"),
    }
}

/// What kind of entry `file_type` describes, as a phrase.
pub fn describe_type(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK only matters for FIFOs and devices, which are refused after
    // the fstat; reads of a regular file ignore it.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// The open errors that mean "not a file to read" rather than a failure.
fn refusal(e: &io::Error) -> Option<&'static str> {
    match e.raw_os_error()? {
        libc::ELOOP => Some("a symbolic link"),
        // A socket cannot be opened as a file.
        libc::ENXIO => Some("a socket"),
        libc::EACCES | libc::EPERM => Some("a file this process may not read"),
        _ => None,
    }
}

/// Whether `path` is a symbolic link (not followed); errors other than "not
/// there" name the path.
pub fn is_symlink(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_symlink()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn only_a_regular_file_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"abc").unwrap();
        assert!(matches!(
            open_regular(&file).unwrap(),
            Opened::Regular(_, 3)
        ));

        let link = dir.path().join("link");
        symlink(&file, &link).unwrap();
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nothing"), &dangling).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        for (path, what) in [
            (&link, "a symbolic link"),
            (&dangling, "a symbolic link"),
            (&sub, "a directory"),
            (&fifo, "a FIFO"),
            (&socket, "a socket"),
        ] {
            match open_regular(path).unwrap() {
                Opened::NotRegular(found) => assert_eq!(found, what, "{path:?}"),
                other => panic!("{path:?}: {other:?}"),
            }
        }
        assert!(matches!(
            open_regular(&dir.path().join("none")).unwrap(),
            Opened::Missing
        ));
        let err = open_regular_or_refuse("read part", &link)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("link") && err.contains("symbolic link"),
            "{err}"
        );
    }
}
