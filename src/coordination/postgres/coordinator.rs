//! [`PgCoordinator`] as a [`Coordinator`]: each method is the inherent one of
//! the same name.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::PgCoordinator;
use crate::coordination::coordinator::Beneficiaries;
use crate::coordination::{
    AggregatorLease, BatchClaim, BatchTally, BatchToken, ClaimState, Coordinator, JobEnd,
    JobRecord, JobSpec, OutputRecord, Submitted,
};
use crate::error::{Error, Result};

impl Coordinator for PgCoordinator {
    fn describe(&self) -> String {
        self.target().to_owned()
    }

    fn is_transient(&self, error: &Error) -> bool {
        super::is_transient(error)
    }

    fn submit_job<'a>(
        &'a self,
        spec: &'a JobSpec,
        beneficiaries: Beneficiaries<'a>,
        resume: bool,
    ) -> BoxFuture<'a, Result<Submitted>> {
        if resume {
            self.submit_or_resume(spec, beneficiaries).boxed()
        } else {
            self.submit(spec, beneficiaries)
                .map(|r| r.map(Submitted::Created))
                .boxed()
        }
    }

    fn cancel<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::cancel(self, job_id).boxed()
    }

    fn status<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<JobRecord>> {
        PgCoordinator::status(self, job_id).boxed()
    }

    fn running_jobs(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        PgCoordinator::running_jobs(self).boxed()
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<BatchClaim>>> {
        PgCoordinator::claim(self, worker, lease).boxed()
    }

    fn renew<'a>(&'a self, claim: &'a BatchClaim, lease: Duration) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::renew(self, claim, lease).boxed()
    }

    fn complete<'a>(
        &'a self,
        claim: &'a BatchClaim,
        tally: &'a BatchTally,
    ) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::complete(self, claim, tally).boxed()
    }

    fn claim_state<'a>(&'a self, claim: &'a BatchClaim) -> BoxFuture<'a, Result<ClaimState>> {
        PgCoordinator::claim_state(self, claim).boxed()
    }

    fn batch_tokens<'a>(
        &'a self,
        job_id: &'a str,
        batches: &'a [u64],
    ) -> BoxFuture<'a, Result<Vec<BatchToken>>> {
        PgCoordinator::batch_tokens(self, job_id, batches).boxed()
    }

    fn acquire_aggregator<'a>(
        &'a self,
        job_id: &'a str,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<AggregatorLease>>> {
        PgCoordinator::acquire_aggregator(self, job_id, worker, lease).boxed()
    }

    fn renew_aggregator<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        length: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::renew_aggregator(self, lease, length).boxed()
    }

    fn release_aggregator<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<()>> {
        PgCoordinator::release_aggregator(self, lease).boxed()
    }

    fn record_output<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        output: &'a OutputRecord,
    ) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::record_output(self, lease, output).boxed()
    }

    fn outputs<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Vec<OutputRecord>>> {
        PgCoordinator::outputs(self, job_id).boxed()
    }

    fn stop_batches<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::stop_batches(self, lease).boxed()
    }

    fn finish<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        end: &'a JobEnd,
    ) -> BoxFuture<'a, Result<bool>> {
        PgCoordinator::finish(self, lease, end).boxed()
    }
}
