//! [`BulkDataManifest`]: the answer of a FHIR Bulk Data export status request
//! once the job is complete (HL7 FHIR Bulk Data Access IG, as AB2D serves it).
//!
//! Every file entry carries AB2D's two extensions, so that clients can verify a
//! download: `https://ab2d.cms.gov/checksum` (`sha256:<hex>`) and
//! `https://ab2d.cms.gov/file_length` (bytes). Both describe the NDJSON content,
//! also when the file is stored gzipped.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::report::{JobOutput, JobReport};
use crate::store::layout::FileKind;

/// Extension URL of a file's checksum.
pub const CHECKSUM_EXTENSION: &str = "https://ab2d.cms.gov/checksum";
/// Extension URL of a file's length.
pub const FILE_LENGTH_EXTENSION: &str = "https://ab2d.cms.gov/file_length";

/// The complete-status body of a bulk export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkDataManifest {
    /// When the export started (FHIR instant).
    pub transaction_time: String,
    /// The kick-off request URL.
    pub request: String,
    /// Whether downloading a file needs the access token.
    pub requires_access_token: bool,
    /// Data files (`ExplanationOfBenefit`).
    pub output: Vec<ManifestFile>,
    /// Error files (`OperationOutcome`).
    pub error: Vec<ManifestFile>,
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The resource type in the file.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Where to download it.
    pub url: String,
    /// Resources (lines) in the file.
    pub count: u64,
    /// AB2D's checksum and length.
    pub extension: Vec<Extension>,
}

/// A FHIR extension with a string or decimal value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// What the extension means.
    pub url: String,
    /// A string value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_string: Option<String>,
    /// A decimal value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_decimal: Option<u64>,
}

impl BulkDataManifest {
    /// The manifest of a report: `file_url` gives each output's download URL.
    pub fn from_report(
        report: &JobReport,
        transaction_time: SystemTime,
        request: impl Into<String>,
        requires_access_token: bool,
        file_url: impl Fn(&JobOutput) -> String,
    ) -> Self {
        let entries = |kind: FileKind, resource_type: &str| -> Vec<ManifestFile> {
            report
                .outputs_of(kind)
                .map(|output| ManifestFile {
                    resource_type: resource_type.to_owned(),
                    url: file_url(output),
                    count: output.records,
                    extension: vec![
                        Extension {
                            url: CHECKSUM_EXTENSION.to_owned(),
                            value_string: Some(format!("sha256:{}", output.sha256)),
                            value_decimal: None,
                        },
                        Extension {
                            url: FILE_LENGTH_EXTENSION.to_owned(),
                            value_string: None,
                            value_decimal: Some(output.bytes),
                        },
                    ],
                })
                .collect()
        };
        BulkDataManifest {
            transaction_time: fhir_instant(transaction_time),
            request: request.into(),
            requires_access_token,
            output: entries(FileKind::Data, "ExplanationOfBenefit"),
            error: entries(FileKind::Error, "OperationOutcome"),
        }
    }
}

/// `time` as a FHIR instant (RFC 3339, UTC).
pub fn fhir_instant(time: SystemTime) -> String {
    OffsetDateTime::from(time)
        .format(&Rfc3339)
        .expect("any SystemTime formats as RFC 3339")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{JobStatus, Progress, Timings};

    #[test]
    fn manifest_lists_files_with_ab2d_extensions() {
        let output = |file: &str, kind, records| JobOutput {
            file: file.into(),
            kind,
            bytes: 10,
            records,
            sha256: "ab".repeat(32),
            compressed_bytes: None,
        };
        let report = JobReport {
            job_id: "J".into(),
            contract: "Z9000".into(),
            status: JobStatus::Completed,
            completed_earlier: false,
            aggregations: 2,
            outputs: vec![
                output("Z9000_0001.ndjson", FileKind::Data, 3),
                output("Z9000_0001_error.ndjson", FileKind::Error, 1),
            ],
            stray_files: vec![],
            progress: Progress::default(),
            timings_ms: Timings::default(),
        };
        let manifest = BulkDataManifest::from_report(
            &report,
            SystemTime::UNIX_EPOCH,
            "http://h/Group/Z9000/$export",
            true,
            |o| format!("http://h/files/J/{}", o.file),
        );
        let json = serde_json::to_value(&manifest).unwrap();
        assert_eq!(json["transactionTime"], "1970-01-01T00:00:00Z");
        assert_eq!(json["requiresAccessToken"], true);
        assert_eq!(json["output"][0]["type"], "ExplanationOfBenefit");
        assert_eq!(
            json["output"][0]["url"],
            "http://h/files/J/Z9000_0001.ndjson"
        );
        assert_eq!(json["output"][0]["count"], 3);
        assert_eq!(json["output"][0]["extension"][0]["url"], CHECKSUM_EXTENSION);
        assert_eq!(
            json["output"][0]["extension"][0]["valueString"],
            format!("sha256:{}", "ab".repeat(32))
        );
        assert_eq!(
            json["output"][0]["extension"][1]["url"],
            FILE_LENGTH_EXTENSION
        );
        assert_eq!(json["output"][0]["extension"][1]["valueDecimal"], 10);
        assert_eq!(json["error"][0]["type"], "OperationOutcome");
        assert_eq!(json["error"].as_array().unwrap().len(), 1);
    }
}
