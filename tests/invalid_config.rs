//! Invalid configurations and job directories are refused with clear errors,
//! and nothing is touched.

mod common;

use std::fs;

use claims_aggregator::{run_job, Error, JobConfig};
use common::*;

fn refused(builder: claims_aggregator::JobConfigBuilder, field: &str) -> String {
    match builder.build() {
        Err(e @ Error::Config { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("invalid config: {field}:")),
                "{text}"
            );
            text
        }
        other => panic!("expected a config error for {field}, got {other:?}"),
    }
}

#[test]
fn zero_sizes_counts_and_multiplier_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let b = || JobConfig::builder(root.path(), "J1", "Z9000");
    refused(b().max_bytes(0), "max_bytes");
    refused(b().max_mb(0), "max_bytes");
    refused(b().multiplier(0), "multiplier");
    refused(b().batch_size(0), "batch_size");
    refused(b().concurrency(0), "concurrency");
    refused(b().arbiters(0), "arbiters");
    refused(
        b().request_timeout(std::time::Duration::ZERO),
        "request_timeout",
    );
    refused(b().max_failure_rate(1.5), "max_failure_rate");
    refused(b().max_failure_rate(f64::NAN), "max_failure_rate");
    refused(b().max_mb(u64::MAX / 2), "max_mb");
    refused(b().finished_dir("streaming"), "finished_dir");
}

#[test]
fn unsafe_job_ids_and_contracts_are_refused() {
    let root = tempfile::tempdir().unwrap();
    for bad in [
        "",
        "../x",
        "..",
        "a/b",
        ".hidden",
        "nul\0byte",
        "x".repeat(65).as_str(),
    ] {
        let text = refused(JobConfig::builder(root.path(), bad, "Z9000"), "job_id");
        assert!(!bad.is_empty() || text.contains("empty"), "{text}");
        refused(JobConfig::builder(root.path(), "J1", bad), "contract");
        refused(
            JobConfig::builder(root.path(), "J1", "Z9000").streaming_dir(bad),
            "streaming_dir",
        );
    }
    assert!(dir_names(root.path()).is_empty(), "nothing created");
}

#[test]
fn a_root_that_is_not_a_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    fs::write(&file, b"x").unwrap();
    let text = refused(JobConfig::builder(&file, "J1", "Z9000"), "root");
    assert!(
        text.contains("is not a directory") && text.contains("file"),
        "{text}"
    );
    let text = refused(
        JobConfig::builder(root.path().join("missing"), "J1", "Z9000"),
        "root",
    );
    assert!(
        text.contains("missing") && text.contains("No such file"),
        "{text}"
    );
}

#[actix::test]
async fn a_job_directory_that_holds_files_is_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    let job_dir = root.path().join("J1");
    fs::create_dir(&job_dir).unwrap();
    fs::write(job_dir.join("Z9000_0001.ndjson"), b"{}\n").unwrap();
    let cfg = config(root.path()).build().unwrap();
    let err = run_job(cfg, synthetic_source(1, 0.0), beneficiaries(5))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::JobDirectory { .. }), "{err:?}");
    assert!(
        text.contains("J1") && text.contains("already holds 1 entries"),
        "{text}"
    );
    let names: Vec<_> = fs::read_dir(&job_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["Z9000_0001.ndjson"],
        "nothing touched, no lock file made"
    );
}

#[actix::test]
async fn a_job_directory_that_is_a_file_or_a_symlink_is_refused() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("J1"), b"x").unwrap();
    let cfg = config(root.path()).build().unwrap();
    let err = run_job(cfg, synthetic_source(1, 0.0), beneficiaries(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");

    let elsewhere = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.path().join("J1")).unwrap();
    let cfg = config(root.path()).build().unwrap();
    let err = run_job(cfg, synthetic_source(1, 0.0), beneficiaries(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(dir_names(elsewhere.path()).is_empty(), "never followed");
}

/// A directory this process cannot create entries in: a read-only directory, or
/// (when running as root, which ignores permissions) sysfs.
fn unwritable_dir(scratch: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let locked = scratch.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    for candidate in [locked, std::path::PathBuf::from("/sys")] {
        let probe = candidate.join("claims-aggregator-probe");
        match fs::create_dir(&probe) {
            Ok(()) => fs::remove_dir(&probe).unwrap(),
            Err(_) => return candidate,
        }
    }
    panic!("found no unwritable directory to test with");
}

#[actix::test]
async fn an_unwritable_root_names_the_path() {
    let scratch = tempfile::tempdir().unwrap();
    let root = unwritable_dir(scratch.path());
    let cfg = config(&root).build().unwrap();
    let err = run_job(cfg, synthetic_source(1, 0.0), beneficiaries(5))
        .await
        .unwrap_err();
    let text = err.to_string();
    let job_dir = root.join("J1").display().to_string();
    assert!(
        text.starts_with(&format!("create job directory {job_dir}: ")),
        "{text}"
    );
}
