//! The complete-status manifest: the engine's [`BulkDataManifest`] with the
//! service's URLs, plus one error file of information OperationOutcomes when a
//! lenient kick-off dropped parameters. That file is made from the export's
//! record when asked for, never written into the job directory, which holds
//! the engine's outputs only.

use std::time::{Duration, SystemTime};

use claims_aggregator::manifest::{
    BulkDataManifest, Extension, ManifestFile, CHECKSUM_EXTENSION, FILE_LENGTH_EXTENSION,
};
use sha2::{Digest, Sha256};

use super::exports::Record;
use super::outcome::operation_outcome;

/// The name of the file of dropped parameters (never an output's: those start
/// with the contract and a number).
pub const IGNORED_FILE: &str = "ignored_parameters.ndjson";

/// The manifest of a completed export.
pub fn manifest(record: &Record, base: &str, requires_access_token: bool) -> BulkDataManifest {
    let report = record
        .report
        .as_ref()
        .expect("a completed export has its report");
    let started = SystemTime::UNIX_EPOCH + Duration::from_millis(record.started_ms);
    let id = &record.id;
    let mut manifest = BulkDataManifest::from_report(
        report,
        started,
        &record.request,
        requires_access_token,
        |o| format!("{base}/files/{id}/{}", o.file),
    );
    if let Some(ndjson) = ignored_ndjson(record) {
        manifest.error.push(ManifestFile {
            resource_type: "OperationOutcome".into(),
            url: format!("{base}/files/{id}/{IGNORED_FILE}"),
            count: record.ignored.len() as u64,
            extension: vec![
                Extension {
                    url: CHECKSUM_EXTENSION.to_owned(),
                    value_string: Some(format!("sha256:{}", hex::encode(Sha256::digest(&ndjson)))),
                    value_decimal: None,
                },
                Extension {
                    url: FILE_LENGTH_EXTENSION.to_owned(),
                    value_string: None,
                    value_decimal: Some(ndjson.len() as u64),
                },
            ],
        });
    }
    manifest
}

/// The NDJSON of the parameters a lenient kick-off dropped: one information
/// OperationOutcome each; `None` when nothing was dropped.
pub fn ignored_ndjson(record: &Record) -> Option<Vec<u8>> {
    if record.ignored.is_empty() {
        return None;
    }
    let mut ndjson = Vec::new();
    for what in &record.ignored {
        let line = operation_outcome(
            "information",
            "informational",
            &format!("{what}: ignored (Prefer: handling=lenient)"),
        );
        serde_json::to_writer(&mut ndjson, &line).expect("JSON values serialise");
        ndjson.push(b'\n');
    }
    Some(ndjson)
}
