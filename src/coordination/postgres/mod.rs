//! [`PgCoordinator`]: one job's batches, leases and outputs in PostgreSQL.
//!
//! Every worker process connects to the same database; the crate creates and
//! migrates its schema itself ([`PgCoordinator::connect`] runs the migrations,
//! once per database even when many processes start at once). Its tables live in
//! the schema `claims_aggregator`:
//!
//! ```text
//! jobs              id, contract, options (JSON: what to export), state, cancel flag,
//!                   batch size, max attempts, counts, timestamps
//! batches           (job, batch number), beneficiary ids, state, owner, lease expiry,
//!                   fencing token, attempts
//! aggregator_leases job, owner, fencing token, lease expiry
//! outputs           (job, name), kind, bytes, records, sha256, the token that recorded it
//! schema_version    the migrations applied
//! ```
//!
//! A batch goes `pending` → `running` (claimed; lease renewed while fetched) →
//! `done` (completed by the holder of its current token). A claim whose lease
//! expired is claimable again, with the token incremented. A batch claimed more
//! than its job's `max_attempts` times is handed out as `failing`
//! ([`ClaimKind::Failed`](crate::coordination::ClaimKind::Failed)): the holder writes one `OperationOutcome` per
//! beneficiary and completes it, and it ends `failed`. Cancelling a job, or
//! finishing it failed, turns its open batches `cancelled`.
//!
//! Every time is the database's clock (`now()`), so workers' clocks need not
//! agree. Each call takes a pooled connection and is one statement, one round
//! trip, unless its docs say otherwise. No TLS yet: the client connects with
//! `NoTls`, for a database on loopback or a trusted network.

mod aggregator;
mod batches;
mod conninfo;
mod coordinator;
mod jobs;
mod schema;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};

use crate::error::{Error, Result};

pub use schema::SCHEMA_VERSION;

/// Connections a [`PgCoordinator`] keeps open at most, by default.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long opening one connection may take before the call fails.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a call waits for a free pooled connection before it fails.
pub const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The coordination database of one or many jobs: cheap to clone (one pool).
#[derive(Clone)]
pub struct PgCoordinator {
    pool: Pool,
    /// Where it connects, for errors: `host=… port=… user=… dbname=…`.
    target: String,
}

impl std::fmt::Debug for PgCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCoordinator")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PgCoordinator {
    /// Connects to `conninfo` — libpq form
    /// (`host=127.0.0.1 port=5433 user=postgres dbname=claims`) or a URL
    /// (`postgresql://postgres@127.0.0.1:5433/claims`) — with a pool of
    /// [`DEFAULT_POOL_SIZE`] connections, and brings the schema up to
    /// [`SCHEMA_VERSION`] ([`migrate`](Self::migrate)).
    ///
    /// Refuses a string that does not parse ([`Error::Config`] on field `db`),
    /// a database it cannot reach or log into ([`Error::Database`] naming host,
    /// port, user and database, never the password), and a schema newer than
    /// this build knows.
    pub async fn connect(conninfo: &str) -> Result<PgCoordinator> {
        Self::connect_with_pool_size(conninfo, DEFAULT_POOL_SIZE).await
    }

    /// [`connect`](Self::connect) with at most `pool_size` connections (at
    /// least 1).
    pub async fn connect_with_pool_size(conninfo: &str, pool_size: usize) -> Result<PgCoordinator> {
        if pool_size == 0 {
            return Err(Error::config("pool_size", "must be greater than zero"));
        }
        let mut config = conninfo::parse(conninfo)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let target = conninfo::describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed (a restart) is dropped, not
                // handed out; checking each one with a query would cost a round
                // trip per call.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .build()
            .map_err(|e| Error::Database {
                op: "connect to",
                target: target.clone(),
                source: Box::new(e),
            })?;
        let coordinator = PgCoordinator { pool, target };
        coordinator.migrate().await?;
        Ok(coordinator)
    }

    /// Where this coordinator connects: `host=… port=… user=… dbname=…`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A pooled connection, or an error naming the database.
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| Error::Database {
            op: "connect to",
            target: self.target.clone(),
            source: match e {
                PoolError::Backend(e) => Box::new(e),
                other => Box::new(other),
            },
        })
    }
}

impl PgCoordinator {
    /// A pooled connection for one request, whose errors name `op` and `target`.
    async fn call<'a>(&self, op: &'static str, target: &'a str) -> Result<Call<'a>> {
        Ok(Call {
            client: self.client().await?,
            op,
            target,
        })
    }
}

/// One request's statements on a pooled connection: each prepared once per
/// connection (`prepare_cached`), then run; an error names the request.
struct Call<'a> {
    client: deadpool_postgres::Object,
    op: &'static str,
    target: &'a str,
}

impl Call<'_> {
    fn error(&self, e: tokio_postgres::Error) -> Error {
        db_error(self.op, self.target, e)
    }

    async fn prepare(&self, sql: &str) -> Result<Statement> {
        self.client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.error(e))
    }

    /// Runs `sql`; the number of rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.prepare(sql).await?;
        self.client
            .execute(&statement, params)
            .await
            .map_err(|e| self.error(e))
    }

    /// Runs `sql`; its row, if any.
    async fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let statement = self.prepare(sql).await?;
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(|e| self.error(e))
    }

    /// Runs `sql`; its rows.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.prepare(sql).await?;
        self.client
            .query(&statement, params)
            .await
            .map_err(|e| self.error(e))
    }
}

/// [`Error::Database`] for a failed statement.
fn db_error(op: &'static str, target: impl Into<String>, e: tokio_postgres::Error) -> Error {
    Error::Database {
        op,
        target: target.into(),
        source: Box::new(e),
    }
}

/// Whether `error` is the database being away — unreachable, restarting,
/// shutting down, a connection lost mid-call, no pooled connection in time —
/// rather than a refusal or a bad request: a worker then waits and tries
/// again instead of giving up.
pub fn is_transient(error: &Error) -> bool {
    let Error::Database { source, .. } = error else {
        return false;
    };
    if let Some(e) = source.downcast_ref::<tokio_postgres::Error>() {
        return pg_error_is_transient(e);
    }
    if let Some(e) = source.downcast_ref::<PoolError>() {
        return match e {
            PoolError::Backend(e) => pg_error_is_transient(e),
            PoolError::Timeout(_) => true,
            _ => false,
        };
    }
    false
}

fn pg_error_is_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Connection exceptions (class 08), and a server shutting down,
        // starting up or crashed (57P01–57P03).
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(code)
        }
        // No SQLSTATE: the socket failed (refused, reset, timed out).
        None => {
            std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || e.to_string().contains("timeout")
        }
    }
}

/// [`Error::Database`] for a request the database's state refuses.
fn refused(op: &'static str, target: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Database {
        op,
        target: target.into(),
        source: reason.into().into(),
    }
}

/// A lease length in whole milliseconds, refused when zero or absurd.
fn lease_millis(field: &'static str, lease: Duration) -> Result<i64> {
    /// A day: longer leases would keep a dead worker's batch for that long.
    const MAX_LEASE: Duration = Duration::from_secs(24 * 60 * 60);
    if lease < Duration::from_millis(1) {
        return Err(Error::config(field, "must be at least 1 ms"));
    }
    if lease > MAX_LEASE {
        return Err(Error::config(
            field,
            format!("{lease:?} is longer than a day"),
        ));
    }
    Ok(lease.as_millis() as i64)
}

/// Refuses an empty worker name (it is the owner recorded on claims).
fn check_worker(worker: &str) -> Result<()> {
    /// Long enough for `host:pid:random`.
    const MAX_WORKER_LEN: usize = 256;
    if worker.is_empty() {
        return Err(Error::config("worker", "must not be empty"));
    }
    if worker.len() > MAX_WORKER_LEN {
        return Err(Error::config(
            "worker",
            format!("{} bytes is longer than {MAX_WORKER_LEN}", worker.len()),
        ));
    }
    Ok(())
}

/// A non-negative database integer as `u64` (counts, tokens, batch numbers).
fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
