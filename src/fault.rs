//! Fault injection points for tests, built on the `fail` crate.
//!
//! `fault_point!("combine::journaled", path)` compiles to nothing unless the `fail`
//! crate's `failpoints` feature is on (it is for this crate's tests, examples and
//! benches, through the dev-dependency; never for users of the library). A test
//! turns a point on with `fail::cfg(name, "return(enospc)")` or, in a child
//! process, `FAILPOINTS=name=return(abort)`:
//!
//! - `return(enospc)`, `return(eio)`: the operation fails with that OS error,
//!   reported with the point's path, as a real full disk or I/O error would be;
//! - `return(abort)`: the process aborts on the spot, like `kill -9`, to test
//!   crash recovery at exactly that step;
//! - `panic`: the thread panics (for actors that must survive a panicking child).
//!
//! Every point that touches a file is listed in [`POINTS`].

use std::io;
use std::path::Path;

use crate::error::{Error, Result};

/// Every fault point, in protocol order.
pub const POINTS: &[&str] = &[
    "part::write",
    "part::synced",
    "fetcher::error-part-finished",
    "combine::claimed",
    "combine::copied",
    "combine::synced",
    "combine::journaled",
    "combine::published",
    "supervisor::streaming-removed",
    "aggregator::finished-removed",
];

/// What an injected fault does: fail with an OS error, or abort the process.
#[doc(hidden)]
pub fn injected<T>(point: &'static str, arg: Option<String>, path: &Path) -> Result<T> {
    let code = match arg.as_deref() {
        Some("abort") => {
            eprintln!("fault point {point}: aborting");
            std::process::abort()
        }
        Some("enospc") => 28,
        Some("eio") | None => 5,
        Some(other) => other.parse().unwrap_or(5),
    };
    Err(Error::io(point, path, io::Error::from_raw_os_error(code)))
}

/// Injects a fault at `$name`, about the file at `$path`, when turned on.
macro_rules! fault_point {
    ($name:literal, $path:expr) => {
        fail::fail_point!($name, |arg| $crate::fault::injected($name, arg, $path))
    };
}
pub(crate) use fault_point;
