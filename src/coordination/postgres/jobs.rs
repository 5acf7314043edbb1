//! Jobs: submit (beneficiaries split into batch rows), cancel, status, finish.

use tokio_postgres::types::Json;
use tokio_postgres::Row;

use super::{db_error, refused, unsigned, PgCoordinator};
use crate::coordination::{
    AggregatorLease, BatchCounts, BatchTally, JobEnd, JobOptions, JobRecord, JobSpec, JobState,
    Submitted,
};
use crate::error::{Error, Result};
use crate::report::JobReport;

/// Beneficiary ids sent in one insert statement at most.
const IDS_PER_STATEMENT: usize = 10_000;

impl PgCoordinator {
    /// Submits a job: one row for it, one per `batch_size` beneficiaries (batches
    /// numbered from 1, in the order given), in one transaction: a crash leaves
    /// the whole job or nothing. Round trips: 4 plus one per 10,000 ids.
    ///
    /// Refuses a job id already submitted (even by a racing submitter), naming
    /// it; [`submit_or_resume`](Self::submit_or_resume) continues it instead.
    /// Refuses what [`crate::JobConfig`] would (an empty or unsafe job id or
    /// contract, a zero batch size), an empty beneficiary id.
    pub async fn submit<I, S>(&self, spec: &JobSpec, beneficiaries: I) -> Result<JobRecord>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        match self.submit_inner(spec, beneficiaries, false).await? {
            Submitted::Created(record) => Ok(record),
            Submitted::Resumed(_) => unreachable!("resume was not asked for"),
        }
    }

    /// [`submit`](Self::submit), or, when the job is already there with the
    /// same contract, options and batch size, leaves it as it is (the
    /// beneficiaries are then not read). A job there with other settings is
    /// refused, naming what differs.
    pub async fn submit_or_resume<I, S>(
        &self,
        spec: &JobSpec,
        beneficiaries: I,
    ) -> Result<Submitted>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.submit_inner(spec, beneficiaries, true).await
    }

    async fn submit_inner<I, S>(
        &self,
        spec: &JobSpec,
        beneficiaries: I,
        resume: bool,
    ) -> Result<Submitted>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        spec.validate()?;
        let op = "submit";
        let target = format!("job {}", spec.job_id);
        let err = |e| db_error(op, target.clone(), e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        // A racing submitter of the same id waits here for our commit, then
        // finds the row.
        let inserted = tx
            .query_opt(
                "INSERT INTO claims_aggregator.jobs
                     (id, contract, options, batch_size, max_attempts)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO NOTHING
                 RETURNING seq",
                &[
                    &spec.job_id,
                    &spec.contract,
                    &Json(&spec.options),
                    &(spec.batch_size as i32),
                    &(spec.max_attempts as i32),
                ],
            )
            .await
            .map_err(err)?;
        let Some(row) = inserted else {
            drop(tx);
            let existing = self.status(&spec.job_id).await?;
            if !resume {
                return Err(refused(
                    op,
                    target,
                    format!(
                        "already submitted (it is {}); submit with resume to continue it",
                        existing.state.as_str()
                    ),
                ));
            }
            return check_resumable(spec, existing, &target).map(Submitted::Resumed);
        };
        let seq: i64 = row.get(0);
        let mut ids = beneficiaries.into_iter().map(Into::into);
        // Whole batches per statement, so that numbering carries on.
        let chunk = (IDS_PER_STATEMENT / spec.batch_size).max(1) * spec.batch_size;
        let (mut total, mut batches) = (0u64, 0u64);
        loop {
            let chunk_ids: Vec<String> = ids.by_ref().take(chunk).collect();
            if chunk_ids.is_empty() {
                break;
            }
            if let Some(at) = chunk_ids
                .iter()
                .position(|id| id.is_empty() || id.contains('\0'))
            {
                return Err(Error::config(
                    "beneficiaries",
                    format!(
                        "beneficiary {} of job {} is empty or holds a NUL byte",
                        total + at as u64 + 1,
                        spec.job_id
                    ),
                ));
            }
            let n = chunk_ids.len() as u64;
            tx.execute(
                "INSERT INTO claims_aggregator.batches (job_id, job_seq, batch, beneficiaries)
                 SELECT $1, $2, $3::bigint + (t.ord - 1) / $4::bigint, array_agg(t.id ORDER BY t.ord)
                 FROM unnest($5::text[]) WITH ORDINALITY AS t(id, ord)
                 GROUP BY 3",
                &[
                    &spec.job_id,
                    &seq,
                    &((batches + 1) as i64),
                    &(spec.batch_size as i64),
                    &chunk_ids,
                ],
            )
            .await
            .map_err(err)?;
            total += n;
            batches += n.div_ceil(spec.batch_size as u64);
        }
        tx.execute(
            "UPDATE claims_aggregator.jobs SET beneficiaries = $2, batches = $3 WHERE id = $1",
            &[&spec.job_id, &(total as i64), &(batches as i64)],
        )
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        log::info!(
            "{}: job {} submitted: {total} beneficiaries in {batches} batches",
            self.target,
            spec.job_id
        );
        self.status(&spec.job_id).await.map(Submitted::Created)
    }

    /// The job and its batches by state. Refuses an unknown job, naming it.
    pub async fn status(&self, job_id: &str) -> Result<JobRecord> {
        let op = "read the status of";
        let target = format!("job {job_id}");
        let call = self.call(op, &target).await?;
        let row = call
            .query_opt(
                "SELECT j.id, j.contract, j.options, j.state, j.cancel_requested,
                        j.failure_reason, j.batch_size, j.max_attempts, j.beneficiaries,
                        j.submitted_at, j.finished_at,
                        count(b.batch) FILTER (WHERE b.state = 'pending'),
                        count(b.batch) FILTER (WHERE b.state = 'running'),
                        count(b.batch) FILTER (WHERE b.state = 'failing'),
                        count(b.batch) FILTER (WHERE b.state = 'done'),
                        count(b.batch) FILTER (WHERE b.state = 'failed'),
                        count(b.batch) FILTER (WHERE b.state = 'cancelled'),
                        coalesce(sum(b.processed), 0)::bigint, coalesce(sum(b.errored), 0)::bigint,
                        coalesce(sum(b.eobs), 0)::bigint, coalesce(sum(b.bytes), 0)::bigint
                 FROM claims_aggregator.jobs j
                 LEFT JOIN claims_aggregator.batches b ON b.job_id = j.id
                 WHERE j.id = $1
                 GROUP BY j.id",
                &[&job_id],
            )
            .await?
            .ok_or_else(|| refused(op, target.clone(), "no such job"))?;
        job_record(&row).map_err(|e| db_error(op, target, e))
    }

    /// The job's report as one process would give it, from the database: its
    /// state, counters and outputs (see [`JobRecord::report`]).
    pub async fn report(&self, job_id: &str) -> Result<JobReport> {
        let record = self.status(job_id).await?;
        let outputs = self.outputs(job_id).await?;
        Ok(record.report(outputs))
    }

    /// The ids of the running jobs, in submission order: the aggregator roles a
    /// worker may take.
    pub async fn running_jobs(&self) -> Result<Vec<String>> {
        let op = "list the running jobs of";
        let target = self.target.clone();
        let call = self.call(op, &target).await?;
        let rows = call
            .query(
                "SELECT id FROM claims_aggregator.jobs WHERE state = 'running' ORDER BY seq",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Stops the job's open batches, under the aggregator lease, when it is
    /// going to fail (too many beneficiaries failed): no batch is claimed
    /// again, the holders' next renewals answer `false`, and the job stays
    /// running until its aggregator has combined what was done and
    /// [`finish`](Self::finish)es it. `false` when the lease was taken over.
    pub async fn stop_batches(&self, lease: &AggregatorLease) -> Result<bool> {
        let op = "stop the batches of";
        let target = format!("job {}", lease.job_id);
        let err = |e| db_error(op, target.clone(), e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let held = lease_held(&tx, lease).await.map_err(err)?;
        if held {
            cancel_open_batches(&tx, &lease.job_id).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(held)
    }

    /// Requests a cancel: sets the job's cancel flag and turns its open batches
    /// `cancelled`, so that no batch is claimed again and every holder's next
    /// [`renew`](Self::renew) answers `false`. The aggregator cleans up and
    /// [`finish`](Self::finish)es the job as cancelled. One transaction.
    ///
    /// `Ok(true)` when the job is running (the flag is now set), `Ok(false)` when
    /// it had already ended; refuses an unknown job, naming it.
    pub async fn cancel(&self, job_id: &str) -> Result<bool> {
        let op = "cancel";
        let target = format!("job {job_id}");
        let err = |e| db_error(op, target.clone(), e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let state: Option<String> = tx
            .query_opt(
                "UPDATE claims_aggregator.jobs
                 SET cancel_requested = (state = 'running') OR cancel_requested,
                     updated_at = now()
                 WHERE id = $1
                 RETURNING state",
                &[&job_id],
            )
            .await
            .map_err(err)?
            .map(|row| row.get(0));
        let Some(state) = state else {
            return Err(refused(op, target, "no such job"));
        };
        let running = state == "running";
        if running {
            cancel_open_batches(&tx, job_id).await.map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(running)
    }

    /// Ends a running job, as the holder of its aggregator lease: the only
    /// worker that knows every output is made. `Ok(false)` when the lease was
    /// taken over (fenced: nothing changed) or the job had already ended.
    /// [`JobEnd::Completed`] is refused while a batch is still open;
    /// `Failed` and `Cancelled` turn open batches `cancelled`. One transaction.
    pub async fn finish(&self, lease: &AggregatorLease, end: &JobEnd) -> Result<bool> {
        let op = "finish";
        let target = format!("job {}", lease.job_id);
        let err = |e| db_error(op, target.clone(), e);
        let (state, reason) = match end {
            JobEnd::Completed => (JobState::Completed, None),
            JobEnd::Failed { reason } => (JobState::Failed, Some(reason.as_str())),
            JobEnd::Cancelled => (JobState::Cancelled, None),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        if !lease_held(&tx, lease).await.map_err(err)? {
            return Ok(false);
        }
        if state == JobState::Completed {
            let open: i64 = tx
                .query_one(
                    "SELECT count(*) FROM claims_aggregator.batches
                     WHERE job_id = $1 AND state IN ('pending', 'running', 'failing', 'cancelled')",
                    &[&lease.job_id],
                )
                .await
                .map_err(err)?
                .get(0);
            if open > 0 {
                return Err(refused(
                    op,
                    target,
                    format!("{open} batches are not done; it cannot be completed"),
                ));
            }
        } else {
            cancel_open_batches(&tx, &lease.job_id).await.map_err(err)?;
        }
        let changed = tx
            .execute(
                "UPDATE claims_aggregator.jobs
                 SET state = $2, failure_reason = $3, finished_at = now(), updated_at = now()
                 WHERE id = $1 AND state = 'running'",
                &[&lease.job_id, &state.as_str(), &reason],
            )
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(changed == 1)
    }
}

/// Turns a job's open batches `cancelled`: never claimed again, and their
/// holders' renewals and completions refused.
/// Whether `lease` is still the job's aggregator lease, read `FOR SHARE`: a
/// takeover waits until the transaction `tx` ends.
async fn lease_held(
    tx: &deadpool_postgres::Transaction<'_>,
    lease: &AggregatorLease,
) -> Result<bool, tokio_postgres::Error> {
    tx.query_opt(
        "SELECT 1 FROM claims_aggregator.aggregator_leases
         WHERE job_id = $1 AND token = $2 FOR SHARE",
        &[&lease.job_id, &(lease.token as i64)],
    )
    .await
    .map(|row| row.is_some())
}

async fn cancel_open_batches(
    tx: &deadpool_postgres::Transaction<'_>,
    job_id: &str,
) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "UPDATE claims_aggregator.batches
         SET state = 'cancelled', lease_until = NULL, updated_at = now()
         WHERE job_id = $1 AND state IN ('pending', 'running', 'failing')",
        &[&job_id],
    )
    .await
}

/// The existing job, if it matches what is submitted again.
fn check_resumable(spec: &JobSpec, existing: JobRecord, target: &str) -> Result<JobRecord> {
    match spec.differs_from(&existing) {
        Some(reason) => Err(refused("resume", target.to_owned(), reason)),
        None => Ok(existing),
    }
}

fn job_record(row: &Row) -> Result<JobRecord, tokio_postgres::Error> {
    let Json(options): Json<JobOptions> = row.try_get(2)?;
    let state: String = row.try_get(3)?;
    let count =
        |i: usize| -> Result<u64, tokio_postgres::Error> { row.try_get::<_, i64>(i).map(unsigned) };
    Ok(JobRecord {
        job_id: row.try_get(0)?,
        contract: row.try_get(1)?,
        options,
        state: JobState::parse(&state),
        cancel_requested: row.try_get(4)?,
        failure_reason: row.try_get(5)?,
        batch_size: row.try_get::<_, i32>(6)? as usize,
        max_attempts: row.try_get::<_, i32>(7)? as u32,
        beneficiaries: count(8)?,
        submitted_at: row.try_get(9)?,
        finished_at: row.try_get(10)?,
        batches: BatchCounts {
            pending: count(11)?,
            running: count(12)?,
            failing: count(13)?,
            done: count(14)?,
            failed: count(15)?,
            cancelled: count(16)?,
        },
        tally: BatchTally {
            processed: count(17)?,
            errored: count(18)?,
            eobs: count(19)?,
            bytes: count(20)?,
        },
    })
}
