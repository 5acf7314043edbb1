//! [`until_answered`]: a call to the database repeated while it is away.
//!
//! A worker must outlive a restart of PostgreSQL (a failover, an upgrade, a
//! crash): its batches' leases are fenced by tokens, not by connections, so
//! waiting and carrying on is safe. Only errors that say the database is away
//! (as its coordinator tells: [`Coordinator::is_transient`]) are retried; a
//! refusal or a bad request is answered at once.
//!
//! [`Coordinator::is_transient`]: super::Coordinator::is_transient

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// The first wait before a call is tried again.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs `call` until the database answers it: on an error `transient` says is
/// the database being away, it waits, doubling the wait up to 2 s, and
/// tries again, logging once when the database goes away and once when it is
/// back. Any other error is returned at once; so is [`Error::Cancelled`] once
/// `stop` is set.
///
/// `call` must be safe to repeat: a reply lost with the connection may hide a
/// call that did take effect.
pub async fn until_answered<T, F, Fut>(
    what: &str,
    stop: &AtomicBool,
    transient: impl Fn(&Error) -> bool,
    mut call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut away = false;
    loop {
        match call().await {
            Ok(answer) => {
                if away {
                    log::info!("the database is back: {what} went through");
                }
                return Ok(answer);
            }
            Err(e) if transient(&e) => {
                if !away {
                    log::warn!("{what}: {e}; waiting for the database to come back");
                    away = true;
                } else {
                    log::debug!("{what}: {e}; still waiting");
                }
            }
            Err(e) => return Err(e),
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        actix_rt::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
