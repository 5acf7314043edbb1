//! Configuration errors in the user's terms: the library names the builder
//! setter that refused a value (`max_bytes`), the user typed a flag (`--max-mb`).

use claims_aggregator::Error;

/// The flag that sets each [`claims_aggregator::JobConfig`] or BFD setting the
/// example programs take from their command line.
const FLAGS: &[(&str, &str)] = &[
    ("root", "--root"),
    ("db", "--db"),
    ("job_id", "--job-id"),
    ("contract", "--contract"),
    ("max_mb", "--max-mb"),
    ("batch_size", "--batch-size"),
    ("multiplier", "--multiplier"),
    ("concurrency", "--concurrency"),
    ("arbiters", "--arbiters"),
    ("max_failure_rate", "--max-failure-rate"),
    ("base_url", "--bfd-url"),
    ("page_size", "--page-size"),
    ("since", "--since"),
    ("ca_cert", "--ca-cert"),
    ("client_cert", "--client-cert"),
    ("client_key", "--client-key"),
];

/// The flag that sets `field`. `max_bytes_given` says whether the size cap
/// came from `--max-bytes` rather than `--max-mb`.
pub fn flag_of(field: &str, max_bytes_given: bool) -> Option<&'static str> {
    match field {
        "max_bytes" if max_bytes_given => Some("--max-bytes"),
        "max_bytes" => Some("--max-mb"),
        field => FLAGS
            .iter()
            .find(|(setting, _)| *setting == field)
            .map(|(_, flag)| *flag),
    }
}

/// `error` with the flag the user typed in place of the setting's name.
pub fn in_flag_terms(error: Error, max_bytes_given: bool) -> Box<dyn std::error::Error> {
    if let Error::Config { field, reason } = &error {
        if let Some(flag) = flag_of(field, max_bytes_given) {
            return format!("invalid {flag}: {reason}").into();
        }
    }
    error.into()
}
