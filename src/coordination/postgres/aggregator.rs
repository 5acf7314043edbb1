//! The aggregator lease of a job, and the outputs recorded under it.
//!
//! One worker per job aggregates. It holds the job's lease with a fencing token
//! of its own, incremented by every acquisition; each output is recorded in the
//! statement that checks that token, so an aggregator that was taken over (its
//! lease expired while it was paused or cut off) records nothing more.

use std::time::Duration;

use super::{check_worker, lease_millis, refused, unsigned, PgCoordinator};
use crate::coordination::{AggregatorLease, OutputRecord};
use crate::error::{Error, Result};
use crate::store::layout::FileKind;

impl PgCoordinator {
    /// Takes the aggregator role of `job_id` for `worker` on a lease of `lease`,
    /// when nobody holds it or its lease expired: the token is then one more
    /// than the last holder's. `None` when another worker holds a live lease, or
    /// the job is unknown or has ended. One statement.
    pub async fn acquire_aggregator(
        &self,
        job_id: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<AggregatorLease>> {
        check_worker(worker)?;
        let millis = lease_millis("lease", lease)?;
        let op = "acquire the aggregator lease of";
        let target = format!("job {job_id} for worker {worker}");
        let call = self.call(op, &target).await?;
        let row = call
            .query_opt(
                "INSERT INTO claims_aggregator.aggregator_leases (job_id, owner, token, lease_until)
                 SELECT id, $2, 1, now() + $3::float8 * interval '1 millisecond'
                 FROM claims_aggregator.jobs WHERE id = $1 AND state = 'running'
                 ON CONFLICT (job_id) DO UPDATE
                 SET owner = EXCLUDED.owner,
                     token = aggregator_leases.token + 1,
                     lease_until = EXCLUDED.lease_until
                 WHERE aggregator_leases.lease_until <= now()
                 RETURNING token", &[&job_id, &worker, &(millis as f64)])
            .await?;
        Ok(row.map(|row| AggregatorLease {
            job_id: job_id.to_owned(),
            owner: worker.to_owned(),
            token: unsigned(row.get(0)),
        }))
    }

    /// Extends the lease to `lease` from now. `false` when it was taken over:
    /// the holder must stop aggregating. A cancel does not end the lease (the
    /// aggregator cleans up): read it with [`status`](Self::status).
    pub async fn renew_aggregator(
        &self,
        lease: &AggregatorLease,
        length: Duration,
    ) -> Result<bool> {
        let millis = lease_millis("lease", length)?;
        let op = "renew the aggregator lease of";
        let target = lease_target(lease);
        let call = self.call(op, &target).await?;
        let n = call
            .execute(
                "UPDATE claims_aggregator.aggregator_leases
                 SET lease_until = now() + $3::float8 * interval '1 millisecond'
                 WHERE job_id = $1 AND token = $2",
                &[&lease.job_id, &(lease.token as i64), &(millis as f64)],
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives the lease up now (it expires at once), so that another worker
    /// can take the role without waiting for the lease to run out. Its token
    /// stays: a later acquisition gets the next one.
    pub async fn release_aggregator(&self, lease: &AggregatorLease) -> Result<()> {
        let op = "release the aggregator lease of";
        let target = lease_target(lease);
        let call = self.call(op, &target).await?;
        call.execute(
            "UPDATE claims_aggregator.aggregator_leases SET lease_until = now()
             WHERE job_id = $1 AND token = $2",
            &[&lease.job_id, &(lease.token as i64)],
        )
        .await?;
        Ok(())
    }

    /// Records an output of the lease's job, in the statement that checks the
    /// lease's token (`FOR SHARE`: a takeover waits for it). `Ok(true)` when it
    /// is recorded — or was already, identically (a retry after a lost reply);
    /// `Ok(false)` when the lease was taken over: nothing is recorded.
    ///
    /// Refuses, naming it, an output name already recorded with another
    /// content: outputs are numbered on, never repeated.
    pub async fn record_output(
        &self,
        lease: &AggregatorLease,
        output: &OutputRecord,
    ) -> Result<bool> {
        let op = "record output";
        let target = format!("{} of {}", output.name, lease_target(lease));
        let (bytes, records) = match (i64::try_from(output.bytes), i64::try_from(output.records)) {
            (Ok(b), Ok(r)) => (b, r),
            _ => return Err(Error::config("output", "a size or count beyond 2^63 - 1")),
        };
        let call = self.call(op, &target).await?;
        let inserted = call
            .query_opt(
                "WITH lease AS (
                     SELECT token FROM claims_aggregator.aggregator_leases
                     WHERE job_id = $1 AND token = $2
                     FOR SHARE
                 )
                 INSERT INTO claims_aggregator.outputs
                     (job_id, name, kind, bytes, records, sha256, aggregator_token)
                 SELECT $1, $3, $4, $5, $6, $7, token FROM lease
                 ON CONFLICT (job_id, name) DO NOTHING
                 RETURNING name",
                &[
                    &lease.job_id,
                    &(lease.token as i64),
                    &output.name,
                    &output.kind.as_str(),
                    &bytes,
                    &records,
                    &output.sha256,
                ],
            )
            .await?;
        if inserted.is_some() {
            return Ok(true);
        }
        // Fenced, or the name is there already: which?
        let holder: Option<i64> = call
            .query_opt(
                "SELECT token FROM claims_aggregator.aggregator_leases WHERE job_id = $1",
                &[&lease.job_id],
            )
            .await?
            .map(|row| row.get(0));
        if holder != Some(lease.token as i64) {
            return Ok(false);
        }
        let existing = self
            .outputs(&lease.job_id)
            .await?
            .into_iter()
            .find(|o| o.name == output.name);
        match existing {
            Some(ref e) if e == output => Ok(true),
            Some(e) => Err(refused(
                op,
                target,
                format!(
                    "already recorded with other content ({} {} bytes, {} records, sha256 {})",
                    e.kind, e.bytes, e.records, e.sha256
                ),
            )),
            // Still the holder, so the insert met the name; outputs are never
            // deleted, so this cannot be.
            None => Err(refused(op, target, "neither recorded nor fenced")),
        }
    }

    /// The outputs recorded for a job, by name. Empty for an unknown job.
    pub async fn outputs(&self, job_id: &str) -> Result<Vec<OutputRecord>> {
        let op = "list the outputs of";
        let target = format!("job {job_id}");
        let rows = self
            .call(op, &target)
            .await?
            .query(
                "SELECT name, kind, bytes, records, sha256 FROM claims_aggregator.outputs
                 WHERE job_id = $1 ORDER BY name",
                &[&job_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| OutputRecord {
                name: row.get(0),
                kind: if row.get::<_, &str>(1) == "error" {
                    FileKind::Error
                } else {
                    FileKind::Data
                },
                bytes: unsigned(row.get(2)),
                records: unsigned(row.get(3)),
                sha256: row.get(4),
            })
            .collect())
    }
}

fn lease_target(lease: &AggregatorLease) -> String {
    format!(
        "job {} (aggregator token {}, worker {})",
        lease.job_id, lease.token, lease.owner
    )
}
