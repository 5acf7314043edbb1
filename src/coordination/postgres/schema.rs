//! The schema, created and migrated by the crate itself.
//!
//! Each process runs [`PgCoordinator::migrate`] when it connects. The whole
//! migration is one transaction that first takes a transaction-scoped advisory
//! lock: when two processes start at once, the second waits for the first to
//! commit, then finds every migration applied and does nothing. DDL in
//! PostgreSQL is transactional, so a migration is applied whole or not at all.

use super::{db_error, refused, PgCoordinator};
use crate::error::Result;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i32 = 2;

/// Key of the advisory lock held while migrating: any constant that no other
/// application in the same database uses (advisory locks are per database).
/// The bytes spell `claimagg`.
const MIGRATION_LOCK: i64 = 0x636c_6169_6d61_6767;

/// The migrations, in order: version, SQL. Never edit one that shipped; add
/// the next.
const MIGRATIONS: &[(i32, &str)] = &[(1, V1), (2, V2)];

const V1: &str = "
CREATE TABLE claims_aggregator.jobs (
    id               text PRIMARY KEY,
    -- Claims are taken job after job in this order.
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    contract         text NOT NULL,
    options          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'running'
                     CHECK (state IN ('running', 'completed', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    failure_reason   text,
    batch_size       integer NOT NULL CHECK (batch_size > 0),
    max_attempts     integer NOT NULL CHECK (max_attempts > 0),
    beneficiaries    bigint NOT NULL DEFAULT 0,
    batches          bigint NOT NULL DEFAULT 0,
    submitted_at     timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);

CREATE TABLE claims_aggregator.batches (
    job_id        text NOT NULL REFERENCES claims_aggregator.jobs (id) ON DELETE CASCADE,
    batch         bigint NOT NULL CHECK (batch > 0),
    -- The job's seq, copied so that the claim query walks one index.
    job_seq       bigint NOT NULL,
    beneficiaries text[] NOT NULL CHECK (cardinality(beneficiaries) > 0),
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'failing', 'done', 'failed', 'cancelled')),
    owner         text,
    lease_until   timestamptz,
    -- Incremented by every claim: the fence of completion and of part names.
    token         bigint NOT NULL DEFAULT 0 CHECK (token >= 0),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, batch)
);

-- The batches a claim may take, in claim order; done ones leave it.
CREATE INDEX batches_open ON claims_aggregator.batches (job_seq, batch)
    WHERE state IN ('pending', 'running', 'failing');

CREATE TABLE claims_aggregator.aggregator_leases (
    job_id      text PRIMARY KEY REFERENCES claims_aggregator.jobs (id) ON DELETE CASCADE,
    owner       text NOT NULL,
    token       bigint NOT NULL CHECK (token > 0),
    lease_until timestamptz NOT NULL
);

CREATE TABLE claims_aggregator.outputs (
    job_id           text NOT NULL REFERENCES claims_aggregator.jobs (id) ON DELETE CASCADE,
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('data', 'error')),
    bytes            bigint NOT NULL CHECK (bytes >= 0),
    records          bigint NOT NULL CHECK (records >= 0),
    sha256           text NOT NULL,
    aggregator_token bigint NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);
";

/// What each completed batch counted, for the job's progress and its failure
/// threshold; and the running jobs, which workers poll for aggregator roles.
const V2: &str = "
ALTER TABLE claims_aggregator.batches
    ADD COLUMN processed bigint NOT NULL DEFAULT 0 CHECK (processed >= 0),
    ADD COLUMN errored   bigint NOT NULL DEFAULT 0 CHECK (errored >= 0),
    ADD COLUMN eobs      bigint NOT NULL DEFAULT 0 CHECK (eobs >= 0),
    ADD COLUMN bytes     bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0);

CREATE INDEX jobs_running ON claims_aggregator.jobs (seq) WHERE state = 'running';
";

impl PgCoordinator {
    /// Brings the schema up to [`SCHEMA_VERSION`] and returns it. Idempotent, and
    /// safe when many processes run it at once (see the module docs).
    /// [`connect`](Self::connect) runs it; calling it again does nothing.
    ///
    /// Refuses a database whose schema is newer than this build.
    pub async fn migrate(&self) -> Result<i32> {
        let op = "migrate the schema of";
        let target = self.target.as_str();
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| db_error(op, target, e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| db_error(op, target, e))?;
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS claims_aggregator;
             CREATE TABLE IF NOT EXISTS claims_aggregator.schema_version (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(|e| db_error(op, target, e))?;
        let found: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM claims_aggregator.schema_version",
                &[],
            )
            .await
            .map_err(|e| db_error(op, target, e))?
            .get(0);
        if found > SCHEMA_VERSION {
            return Err(refused(
                op,
                target,
                format!(
                    "its schema is at version {found}, newer than this build's {SCHEMA_VERSION}: \
                     upgrade this program"
                ),
            ));
        }
        for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            tx.batch_execute(sql)
                .await
                .map_err(|e| db_error(op, target, e))?;
            tx.execute(
                "INSERT INTO claims_aggregator.schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await
            .map_err(|e| db_error(op, target, e))?;
            log::info!("{target}: schema migrated to version {version}");
        }
        tx.commit().await.map_err(|e| db_error(op, target, e))?;
        Ok(SCHEMA_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, i + 1);
        }
        assert_eq!(MIGRATIONS.last().unwrap().0, SCHEMA_VERSION);
    }
}
