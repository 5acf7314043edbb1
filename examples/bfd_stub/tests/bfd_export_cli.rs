//! `export --source bfd` as a user runs it, against the stub BFD: over mutual
//! TLS with the certificate flags, ids from `--patients FILE`, `--page-size`,
//! `--since`; and flags that make no sense refused with a clear error.
//!
//! The children run the example's binary (see `common::example_bin`), while
//! the parent serves the stub.

mod bfd_support;

use std::process::{Command, ExitCode, Output};

use bfd_support::pki::TestPki;
use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;
use serde_json::Value;

fn main() -> ExitCode {
    common::init_logging();
    actix::System::new().block_on(exports_over_mutual_tls_from_a_patients_file());
    flags_that_make_no_sense_are_refused();
    println!("bfd_export_cli: 2 passed, 0 failed");
    ExitCode::SUCCESS
}

/// Runs `export` with `args` in a child process, off the actix threads.
async fn export(args: Vec<String>) -> Output {
    actix_rt::task::spawn_blocking(move || run(&args))
        .await
        .unwrap()
}

fn run(args: &[String]) -> Output {
    Command::new(common::example_bin("export"))
        .env("RUST_LOG", "error")
        .args(args)
        .output()
        .unwrap()
}

async fn exports_over_mutual_tls_from_a_patients_file() {
    let claims = synthetic(17, 5.0);
    let patients = common::beneficiaries(12);
    let unknown = &patients[4];
    let pki = TestPki::generate("cli");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path()).unwrap();
    let stub = StubServer::start(StubConfig {
        tls: Some(pki.server_config(true)),
        ..stub_config(claims.clone()).fault(unknown, Fault::new(FaultKind::NotFound))
    })
    .unwrap();
    // One id a line; blank lines and surrounding spaces are ignored.
    let list = dir.path().join("patients.txt");
    let text: String = patients.iter().map(|p| format!("  {p} \n\n")).collect();
    std::fs::write(&list, text).unwrap();
    let root = dir.path().join("root");
    let since = "2021-03-01";
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let args = vec![
        "--root".into(),
        path(&root),
        "--create-root".into(),
        "--job-id".into(),
        "CLI-JOB".into(),
        "--source".into(),
        "bfd".into(),
        "--bfd-url".into(),
        stub.url(),
        "--patients".into(),
        path(&list),
        "--page-size".into(),
        "2".into(),
        "--since".into(),
        since.into(),
        "--ca-cert".into(),
        path(&files.ca_cert),
        "--client-cert".into(),
        path(&files.client_cert),
        "--client-key".into(),
        path(&files.client_key),
        "--json".into(),
    ];
    let output = export(args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("the JSON report");
    assert_eq!(report["status"], "completed");
    assert_eq!(report["progress"]["patients_expected"], 12);
    assert_eq!(report["progress"]["patient_requests_processed"], 12);
    assert_eq!(report["progress"]["patient_requests_errored"], 0);

    let want: Vec<String> = patients
        .iter()
        .filter(|p| *p != unknown)
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), Some(since)))
        .collect();
    let mut got = Vec::new();
    for output in report["outputs"].as_array().unwrap() {
        assert_eq!(output["kind"], "data", "no error output: {output}");
        let file = root.join("CLI-JOB").join(output["file"].as_str().unwrap());
        got.extend(
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
    }
    assert!(!want.is_empty());
    assert_same_lines(&got, &want);
    let stats = stub.stats().snapshot();
    assert_eq!(stats.job_ids, ["CLI-JOB"]);
    assert_eq!(stats.not_found, 1);
    assert_eq!(stats.refused, 0);
    stub.stop().await;
}

fn flags_that_make_no_sense_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let files = TestPki::generate("flags").write(dir.path()).unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    // Sparse: one byte over the PEM limit, costing no disk.
    let big_pem = dir.path().join("big.pem");
    std::fs::File::create(&big_pem)
        .unwrap()
        .set_len(claims_aggregator::source::bfd::MAX_PEM_BYTES + 1)
        .unwrap();
    let repeated = dir.path().join("repeated.txt");
    std::fs::write(&repeated, "-1\n-2\n\n-3\n  -2 \n-1\n").unwrap();
    let long_line = dir.path().join("long.txt");
    std::fs::write(&long_line, format!("-1\n{}\n", "9".repeat(1025))).unwrap();
    let bfd = |flags: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["--source", "bfd", "--bfd-url", "https://127.0.0.1:1"]
            .map(String::from)
            .to_vec();
        args.extend(flags.iter().map(|f| f.to_string()));
        args
    };
    let owned = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            owned(&["--source", "bfd", "--bfd-url", "http://bfd.example"]),
            owned(&["invalid --bfd-url: \"http://bfd.example\": plain http is only allowed to a loopback host"]),
        ),
        (
            owned(&["--since", "2024-01-01T00:00:00"]),
            owned(&["invalid --since: \"2024-01-01T00:00:00\" has no time zone"]),
        ),
        (
            bfd(&["--since", "yesterday"]),
            owned(&["invalid --since: \"yesterday\" is neither a date nor an instant; give a date (2024-01-01"]),
        ),
        (
            bfd(&["--ca-cert", "/nonexistent/ca.pem"]),
            owned(&["--ca-cert /nonexistent/ca.pem: read /nonexistent/ca.pem"]),
        ),
        (
            bfd(&["--ca-cert", "/dev/zero"]),
            owned(&["--ca-cert /dev/zero: ", "larger than 1048576 bytes, the limit for a PEM file"]),
        ),
        (
            bfd(&["--ca-cert", &path(&big_pem)]),
            vec![format!("--ca-cert {}: ", big_pem.display()), "larger than 1048576 bytes".into()],
        ),
        (
            bfd(&[
                "--ca-cert",
                &path(&files.ca_cert),
                "--client-cert",
                "/dev/zero",
                "--client-key",
                &path(&files.client_key),
            ]),
            owned(&["--client-cert /dev/zero: ", "larger than 1048576 bytes"]),
        ),
        (
            bfd(&[
                "--ca-cert",
                &path(&files.ca_cert),
                "--client-cert",
                &path(&files.client_cert),
                "--client-key",
                "/dev/zero",
            ]),
            owned(&["--client-key /dev/zero: ", "larger than 1048576 bytes"]),
        ),
        (
            owned(&["--patients", "/nonexistent/ids.txt"]),
            owned(&["--patients /nonexistent/ids.txt"]),
        ),
        (
            owned(&["--patients", "/dev/zero"]),
            owned(&["--patients /dev/zero: line 1 is longer than 1024 bytes"]),
        ),
        (
            owned(&["--patients", &path(&long_line)]),
            vec![format!("--patients {}: line 2 is longer than 1024 bytes", long_line.display())],
        ),
        (
            owned(&["--patients", &path(&repeated)]),
            vec![format!(
                "--patients {}: line 5 repeats beneficiary id \"-2\" of line 2: each \
                 beneficiary must be listed once",
                repeated.display()
            )],
        ),
    ];
    for (flags, words) in cases {
        let mut args = vec!["--root".to_owned(), root_arg.clone()];
        args.extend(flags.iter().cloned());
        let started = std::time::Instant::now();
        let output = run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flags:?}");
        for word in &words {
            assert!(stderr.contains(word.as_str()), "{flags:?}: {stderr}");
        }
        // Refused before reading much: /dev/zero never ends.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{flags:?} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
