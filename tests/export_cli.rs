//! The `export` harness as a user runs it: exit status 0 and the JobReport as
//! JSON on stdout when the job completes; Ctrl-C (SIGINT) cancels the job, cleans
//! up and exits non-zero; a bad flag is a clear error; a job that fails names
//! the causes on its last line and keeps its OperationOutcomes; `--since`
//! keeps the synthetic claims updated since then.
//!
//! The children run the example's binary (see `common::example_bin`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

fn main() -> ExitCode {
    completes_with_a_json_report();
    sigint_cancels_and_cleans_up();
    bad_flags_are_refused();
    a_failed_job_says_why_and_keeps_its_operation_outcomes();
    since_keeps_the_claims_updated_since_then();
    eprintln!("export_cli: 5 tests passed");
    ExitCode::SUCCESS
}

fn export(args: &[&str]) -> Command {
    let mut command = Command::new(common::example_bin("export"));
    command.env("RUST_LOG", "error").args(args);
    command
}

fn completes_with_a_json_report() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let output = export(&[
        "--root",
        root_arg,
        "--beneficiaries",
        "40",
        "--max-mb",
        "1",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON report only");
    assert_eq!(report["status"], "completed");
    assert_eq!(report["job_id"], "ABC-DEF");
    assert_eq!(report["contract"], "Z9000");
    assert_eq!(report["progress"]["patient_requests_processed"], 40);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Z9000_0001.ndjson"),
        "the table of outputs: {stderr}"
    );
    assert!(root.path().join("ABC-DEF/Z9000_0001.ndjson").exists());
}

fn sigint_cancels_and_cleans_up() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let mut child = export(&[
        "--root",
        root_arg,
        "--beneficiaries",
        "1000000",
        "--latency-ms",
        "2",
        "--concurrency",
        "4",
        "--max-mb",
        "1",
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    // Await the first progress line that shows work done, then interrupt.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("progress lines").unwrap();
        if line.starts_with("beneficiaries ") && !line.starts_with("beneficiaries 0/") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(!status.success(), "a cancelled job exits non-zero");
    assert!(
        rest.iter().any(|l| l.contains("cancelling the job")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|l| l.contains("cancelled")), "{rest:?}");
    let job_dir = root.path().join("ABC-DEF");
    assert!(!job_dir.join("streaming").exists(), "streaming/ removed");
    assert!(!job_dir.join("finished").exists(), "finished/ removed");
    for entry in std::fs::read_dir(&job_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp") && !name.starts_with("tmp_"),
            "left behind: {name}"
        );
    }
}

fn bad_flags_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let output = export(&["--root", root_arg, "--job-id", "../x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --job-id: \"../x\""), "{stderr}");
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

fn a_failed_job_says_why_and_keeps_its_operation_outcomes() {
    // A port on 127.0.0.1 where nothing listens.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // One fetcher, two a batch: the first batch trips the threshold.
    let output = export(&[
        "--root",
        root_arg,
        "--source",
        "bfd",
        "--bfd-url",
        &url,
        "--beneficiaries",
        "6",
        "--batch-size",
        "2",
        "--concurrency",
        "1",
        "--json",
    ])
    .env("RUST_LOG", "warn")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let reason = format!(
        "failure threshold exceeded: 2 of 2 beneficiaries failed: \
         connection refused (127.0.0.1:{port}) ×2 (max failure rate 0.1)"
    );
    assert_eq!(
        stderr.lines().last(),
        Some(format!("job ABC-DEF failed: {reason}").as_str()),
        "{stderr}"
    );
    // Each failure is logged once at warn level, with its cause.
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("Connection refused"))
        .collect();
    assert_eq!(warned.len(), 2, "{stderr}");

    let report: Value = serde_json::from_slice(&output.stdout).expect("the JSON report");
    assert_eq!(report["status"], "failed");
    assert_eq!(report["reason"], reason.as_str());
    let errors: Vec<&Value> = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["file"], "Z9000_0001_error.ndjson");
    let body =
        std::fs::read_to_string(root.path().join("ABC-DEF/Z9000_0001_error.ndjson")).unwrap();
    let patients: Vec<String> = body
        .lines()
        .map(|line| {
            let outcome: Value = serde_json::from_str(line).unwrap();
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            outcome["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        patients,
        ["Patient/-19990000000000", "Patient/-19990000000001"]
    );
    assert!(
        stderr.contains("OperationOutcomes of the failed beneficiaries: Z9000_0001_error.ndjson")
    );
}

fn since_keeps_the_claims_updated_since_then() {
    use claims_aggregator::source::{parse_since, synthetic};
    use claims_aggregator::{SyntheticConfig, SyntheticSource};

    let (every, recent) = (
        SyntheticSource::default(),
        SyntheticSource::new(SyntheticConfig {
            since: Some(parse_since("2024-01-01").unwrap()),
            ..SyntheticConfig::default()
        }),
    );
    let ids = |source: &SyntheticSource| -> Vec<String> {
        (0..60)
            .flat_map(|i| source.eob_ids(&synthetic::beneficiary_id(i)))
            .collect()
    };
    let (all, expected) = (ids(&every), ids(&recent));
    assert!(!expected.is_empty() && expected.len() < all.len());
    let mut checksums = Vec::new();
    // A date is midnight UTC: the same instant as seen from New York.
    for since in ["2024-01-01", "2023-12-31T19:00:00.000-05:00"] {
        let root = tempfile::tempdir().unwrap();
        let root_arg = root.path().to_str().unwrap();
        let output = export(&[
            "--root",
            root_arg,
            "--beneficiaries",
            "60",
            "--since",
            since,
            "--json",
        ])
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{since}: {stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["status"], "completed");
        assert_eq!(report["progress"]["eobs_written"], expected.len() as u64);
        let text = std::fs::read_to_string(root.path().join("ABC-DEF/Z9000_0001.ndjson")).unwrap();
        let written: Vec<String> = text
            .lines()
            .map(|line| {
                let eob: Value = serde_json::from_str(line).unwrap();
                let updated = eob["meta"]["lastUpdated"].as_str().unwrap();
                assert!(updated >= "2024-01-01", "{updated}");
                eob["id"].as_str().unwrap().to_owned()
            })
            .collect();
        let mut sorted = written.clone();
        sorted.sort();
        let mut wanted = expected.clone();
        wanted.sort();
        assert_eq!(sorted, wanted, "since {since}");
        checksums.push(report["outputs"][0]["sha256"].clone());
    }
    assert_eq!(checksums[0], checksums[1]);
}
