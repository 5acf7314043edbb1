//! Every resource a job writes is valid FHIR R4, as a validator that is not
//! ours judges it: the `fhir.resources` models (`tests/fhir_validator/`, a
//! Python script run here over the NDJSON outputs). The generator's own tests
//! check the shapes it means to write; this checks what it wrote, on every
//! claim type, small EOBs, odd beneficiary ids and every kind of error line.
//!
//! The validator is found as `$CLAIMS_AGGREGATOR_FHIR_PYTHON` (a Python with
//! `pip install -r tests/fhir_validator/requirements.txt` done; `.ci/run` makes
//! one), else `python3`. Without it these tests fail, saying how to install
//! it: a check that is skipped proves nothing.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use claims_aggregator::{
    run_job, synthetic, FileKind, JobReport, JobStatus, SourceError, SyntheticConfig,
    SyntheticSource,
};
use common::*;
use serde_json::{json, Value};

/// The validator's verdict on some NDJSON files.
struct Verdict {
    /// Its exit status: 0 all valid, 1 some invalid.
    code: i32,
    /// One line per invalid resource, then the summary line.
    stdout: String,
}

/// Runs the validator over `files`; panics, saying how to install it, when it
/// cannot run or is not the pinned release.
fn validate(files: &[PathBuf]) -> Verdict {
    let python =
        std::env::var("CLAIMS_AGGREGATOR_FHIR_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir_validator/validate.py");
    let install = "install the validator: python3 -m venv .fhir-venv && \
                   .fhir-venv/bin/pip install -r tests/fhir_validator/requirements.txt, \
                   then run the tests with CLAIMS_AGGREGATOR_FHIR_PYTHON=.fhir-venv/bin/python";
    let output = Command::new(&python)
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; {install}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(code @ (0 | 1)) => Verdict { code, stdout },
        _ => panic!(
            "the FHIR validator did not run ({}): {stderr}{stdout}\n{install}",
            output.status
        ),
    }
}

/// Every output file of `kind` of a finished job.
fn outputs(job_dir: &Path, report: &JobReport, kind: FileKind) -> Vec<PathBuf> {
    report
        .outputs_of(kind)
        .map(|output| job_dir.join(&output.file))
        .collect()
}

/// `lines` as an NDJSON file `name` in `dir`.
fn ndjson(dir: &Path, name: &str, lines: impl IntoIterator<Item = String>) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    path
}

/// Lines of `files`, and the claim types (`carrier`, …) among their EOB ids.
fn lines_and_types(files: &[PathBuf]) -> (usize, BTreeSet<String>) {
    let (mut lines, mut types) = (0, BTreeSet::new());
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            lines += 1;
            let value: Value = serde_json::from_str(line).unwrap();
            if value["resourceType"] == "ExplanationOfBenefit" {
                let id = value["id"].as_str().unwrap();
                types.insert(id[..id.find('-').unwrap()].to_owned());
            }
        }
    }
    (lines, types)
}

#[test]
fn every_claim_type_small_eobs_and_every_error_line_are_valid_r4() {
    let root = tempfile::tempdir().unwrap();
    let mut files = Vec::new();

    // Full EOBs of every claim type, and the synthetic source's failures.
    let ids = beneficiaries(400);
    let cfg = config(root.path()).max_failure_rate(1.0).build().unwrap();
    let source = synthetic_source(11, 0.05);
    let report = actix::System::new()
        .block_on(run_job(cfg, source, ids.clone()))
        .unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    files.extend(outputs(&root.path().join("J1"), &report, FileKind::Data));
    files.extend(outputs(&root.path().join("J1"), &report, FileKind::Error));

    // Every other way a fetch fails: a timeout, a resource that is not an
    // EOB, a fetcher that panics (its batch lost), a message with control
    // characters, an empty message.
    let scripted = ScriptedSource::new(
        12,
        vec![
            (ids[1].clone(), Script::Hang),
            (
                ids[2].clone(),
                Script::Invalid(json!({"resourceType": "Patient", "id": "p"})),
            ),
            (ids[13].clone(), Script::Panic(AtomicUsize::new(2))),
            (
                ids[25].clone(),
                Script::Fail(SourceError::new(
                    "processing",
                    "BFD answered \u{1b}[31mnonsense\u{0}",
                )),
            ),
            (
                ids[26].clone(),
                Script::Fail(SourceError::new("exception", "")),
            ),
        ],
    );
    let cfg = claims_aggregator::JobConfig::builder(root.path(), "J2", "Z9000")
        .request_timeout(Duration::from_millis(200))
        .max_failure_rate(1.0)
        .build()
        .unwrap();
    let report = actix::System::new()
        .block_on(run_job(cfg, scripted, ids[..40].to_vec()))
        .unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    // The lost batch is ten beneficiaries, the others one each.
    assert_eq!(report.progress.patient_requests_errored, 14);
    files.extend(outputs(&root.path().join("J2"), &report, FileKind::Error));

    // Small EOBs, and EOBs of beneficiary ids of odd shapes.
    let small = SyntheticSource::new(SyntheticConfig {
        small_eobs: true,
        ..SyntheticConfig::default()
    });
    let small_lines = (0..300).flat_map(|i| small.generate(&synthetic::beneficiary_id(i)).unwrap());
    files.push(ndjson(
        root.path(),
        "small.ndjson",
        small_lines.map(|eob| eob.as_str().to_owned()),
    ));
    let odd = SyntheticSource::new(SyntheticConfig {
        eobs_per_beneficiary: 6.0,
        ..SyntheticConfig::default()
    });
    let odd_lines = ["abc", "a\"b\\c\nd", "ünïcødé/…", "-", "", "012"]
        .into_iter()
        .flat_map(|id| odd.generate(id).unwrap());
    files.push(ndjson(
        root.path(),
        "odd.ndjson",
        odd_lines.map(|eob| eob.as_str().to_owned()),
    ));

    let (lines, types) = lines_and_types(&files);
    let every_type: BTreeSet<String> = [
        "carrier",
        "dme",
        "hha",
        "hospice",
        "inpatient",
        "outpatient",
        "pde",
        "snf",
    ]
    .map(String::from)
    .into();
    assert_eq!(types, every_type, "the sample holds every claim type");

    let verdict = validate(&files);
    assert_eq!(verdict.code, 0, "{}", verdict.stdout);
    let summary = verdict.stdout.lines().last().unwrap_or_default();
    // Nothing is checked vacuously: the validator counts every line it got.
    let valid: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(valid, lines, "{summary}");
    assert!(summary.contains(" 0 invalid, FHIR 4.0.1"), "{summary}");
    assert!(summary.contains("OperationOutcome "), "{summary}");
}

#[test]
fn the_validator_refuses_a_choice_of_two_types_and_empty_codes() {
    // An inpatient EOB whose supportingInfo holds the admission period.
    let source = SyntheticSource::default();
    let eob: Value = (0..200)
        .flat_map(|i| source.generate(&synthetic::beneficiary_id(i)).unwrap())
        .map(|eob| serde_json::from_str::<Value>(eob.as_str()).unwrap())
        .find(|eob| {
            eob["supportingInfo"]
                .as_array()
                .is_some_and(|infos| infos.iter().any(|i| i.get("timingPeriod").is_some()))
        })
        .expect("an EOB with an admission period");
    let infos = eob["supportingInfo"].as_array().unwrap();
    let admission = infos
        .iter()
        .position(|i| i.get("timingPeriod").is_some())
        .unwrap();
    let coded = infos.iter().position(|i| i.get("code").is_some()).unwrap();

    // Both defects the generator once had, and an error line's empty text.
    let mut two_types = eob.clone();
    two_types["supportingInfo"][admission]["timingDate"] = json!("2020-01-01");
    let mut empty_code = eob.clone();
    empty_code["supportingInfo"][coded]["code"]["coding"][0]["code"] = json!("");
    let empty_text = json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "details": {"text": ""}}],
    });

    let dir = tempfile::tempdir().unwrap();
    let file = ndjson(
        dir.path(),
        "broken.ndjson",
        [&eob, &two_types, &empty_code, &empty_text].map(Value::to_string),
    );
    let verdict = validate(&[file]);
    assert_eq!(verdict.code, 1, "{}", verdict.stdout);
    let said = |line: usize| {
        verdict
            .stdout
            .lines()
            .find(|l| l.contains(&format!("broken.ndjson:{line}: ")))
            .unwrap_or_else(|| panic!("line {line} is not refused: {}", verdict.stdout))
            .to_owned()
    };
    assert!(
        said(2).contains("['timingDate', 'timingPeriod']"),
        "{}",
        said(2)
    );
    assert!(said(2).contains("got multiple"), "{}", said(2));
    assert!(said(3).contains("code"), "{}", said(3));
    assert!(said(4).contains("text"), "{}", said(4));
    assert!(
        verdict
            .stdout
            .ends_with("1 valid (ExplanationOfBenefit 1), 3 invalid, FHIR 4.0.1\n"),
        "{}",
        verdict.stdout
    );
}
