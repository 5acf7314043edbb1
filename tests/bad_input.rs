//! Bad input in `finished/`: empty parts, a part over `max_bytes`, a part without
//! a trailing newline, non-UTF-8 bytes (passed through untouched), stray files,
//! a directory, and a symlink (never followed) — adopted by a resumed job.

mod common;

use std::collections::HashSet;
use std::fs;

use claims_aggregator::{run_job, FileKind, JobStatus};
use common::*;

#[actix::test]
async fn odd_parts_are_combined_exactly_and_strays_left_alone() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("outside.ndjson");
    fs::write(&secret, b"SECRET\n").unwrap();

    let job_dir = root.path().join("J1");
    let finished = job_dir.join("finished");
    fs::create_dir_all(&finished).unwrap();
    let big: Vec<u8> = (0..25_000)
        .flat_map(|i| format!("{{\"big\":{i:06},\"pad\":\"{}\"}}\n", "y".repeat(80)).into_bytes())
        .collect();
    assert!(big.len() > 2_000_000);
    fs::write(finished.join("tmp_zero.ndjson"), b"").unwrap();
    fs::write(finished.join("tmp_zero_error.ndjson"), b"").unwrap();
    fs::write(finished.join("tmp_big.ndjson"), &big).unwrap();
    fs::write(finished.join("tmp_nonl.ndjson"), b"{\"id\":\"nonl\"}").unwrap();
    fs::write(
        finished.join("tmp_bin.ndjson"),
        b"\xff\xfe\x00raw\x80bytes\n",
    )
    .unwrap();
    fs::write(
        finished.join("tmp_nonl_error.ndjson"),
        b"{\"resourceType\":\"OperationOutcome\"}",
    )
    .unwrap();
    fs::write(finished.join("notes.txt"), b"keep").unwrap();
    fs::create_dir(finished.join("tmp_dir.ndjson")).unwrap();
    std::os::unix::fs::symlink(&secret, finished.join("tmp_link.ndjson")).unwrap();

    let ids = beneficiaries(10);
    let source = synthetic_source(9, 0.0);
    let cfg = config(root.path())
        .max_bytes(20_000)
        .resume(true)
        .build()
        .unwrap();
    let report = run_job(cfg, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert_eq!(
        report.stray_files,
        ["notes.txt", "tmp_dir.ndjson", "tmp_link.ndjson"]
    );
    assert_eq!(
        dir_names(&finished),
        report.stray_files,
        "strays kept, all else consumed"
    );
    assert_eq!(
        fs::read(&secret).unwrap(),
        b"SECRET\n",
        "the link's target is untouched"
    );
    assert!(!job_dir.join("streaming").exists());

    let mut all = Vec::new();
    let mut alone = 0;
    for output in report.outputs_of(FileKind::Data) {
        let body = fs::read(job_dir.join(&output.file)).unwrap();
        assert_eq!(body.last(), Some(&b'\n'));
        if body == big {
            alone += 1;
        } else {
            assert!(output.bytes <= 2_000_000, "{} is over the cap", output.file);
        }
        all.extend_from_slice(&body);
    }
    assert_eq!(
        alone, 1,
        "the oversized part is an output alone, byte for byte"
    );
    let lines: Vec<&[u8]> = all
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == b"\xff\xfe\x00raw\x80bytes")
            .count(),
        1,
        "raw bytes pass untouched"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == b"{\"id\":\"nonl\"}").count(),
        1,
        "newline added"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with(b"SECRET")),
        "the symlink was never followed"
    );

    let expected: HashSet<String> = ids.iter().flat_map(|id| source.eob_ids(id)).collect();
    let mut seen = HashSet::new();
    for line in &lines {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            if v["resourceType"] == "ExplanationOfBenefit" {
                assert!(seen.insert(v["id"].as_str().unwrap().to_owned()));
            }
        }
    }
    assert_eq!(seen, expected, "the job's own claims exactly once");

    let errors: Vec<u8> = report
        .outputs_of(FileKind::Error)
        .flat_map(|o| fs::read(job_dir.join(&o.file)).unwrap())
        .collect();
    assert_eq!(
        errors, b"{\"resourceType\":\"OperationOutcome\"}\n",
        "empty error part made nothing"
    );
    assert_outputs_match_report(&job_dir, &report);
}
