//! A FHIR Bulk Data export service on claims-aggregator: [`service`] is the
//! actix-web configuration (what the `server` binary serves, and what the tests
//! mount in-process), [`job_args`] the job options it shares with the `export`
//! example.

#[path = "../../common/job_args.rs"]
pub mod job_args;
pub mod service;
