//! The three actors of a job and the messages they exchange: the
//! [`JobSupervisor`](supervisor::JobSupervisor) runs the job, the
//! [`BatchFetcher`](fetcher::BatchFetcher)s write parts, the
//! [`Aggregator`](aggregator::Aggregator) combines them into outputs.

pub mod aggregator;
pub mod fetcher;
pub mod messages;
pub mod supervisor;
