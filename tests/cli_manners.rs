//! How `export` and `aggregate` speak to the person who runs them: an error
//! names the flag that was typed, a `--root` that does not exist is refused
//! unless `--create-root`, a completed job's resume shows its outputs rather
//! than zero counters, and both helps share one layout.
//!
//! The children run the examples' binaries (see `common::example_bin`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn run(example: &str, args: &[&str]) -> Output {
    Command::new(common::example_bin(example))
        .env("RUST_LOG", "error")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn errors_name_the_flag_that_was_typed() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "export",
            &["--max-mb", "0"],
            "error: invalid --max-mb: must be greater than zero",
        ),
        (
            "export",
            &["--max-bytes", "0"],
            "error: invalid --max-bytes: must be greater than zero",
        ),
        (
            "export",
            &["--batch-size", "0"],
            "error: invalid --batch-size: must be greater than zero",
        ),
        (
            "export",
            &["--contract", "../x"],
            "error: invalid --contract: \"../x\" must not start with '.'",
        ),
        (
            "export",
            &["--source", "bfd", "--page-size", "0"],
            "error: invalid --page-size: 0 is not between 1 and",
        ),
        (
            "aggregate",
            &["--multiplier", "0"],
            "error: invalid --multiplier: must be greater than zero",
        ),
    ];
    for (example, flags, expected) in cases {
        let mut args = vec!["--root", root_arg];
        args.extend_from_slice(flags);
        let output = run(example, &args);
        assert_eq!(output.status.code(), Some(2), "{example} {flags:?}");
        let text = stderr(&output);
        assert!(text.contains(expected), "{example} {flags:?}: {text}");
        assert!(
            !text.contains("max_bytes") && !text.contains("batch_size"),
            "no builder names: {text}"
        );
        assert_eq!(entries(root.path()), 0, "{example} {flags:?} wrote nothing");
    }
}

#[test]
fn a_missing_root_is_refused_unless_asked_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("jobs/2026");
    let root_arg = root.to_str().unwrap();

    let output = run("export", &["--root", root_arg, "--beneficiaries", "5"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("--root {root_arg} does not exist"))
            && text.contains("--create-root"),
        "{text}"
    );
    assert_eq!(entries(dir.path()), 0, "nothing created");

    let output = run(
        "aggregate",
        &["--root", root_arg, "--poll-ms", "10", "--job-id", "J"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("invalid --root"),
        "{}",
        stderr(&output)
    );
    assert_eq!(entries(dir.path()), 0, "nothing created");

    let output = run(
        "export",
        &["--root", root_arg, "--create-root", "--beneficiaries", "5"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(root.join("ABC-DEF/Z9000_0001.ndjson").is_file());
}

#[test]
fn a_completed_job_resumed_shows_its_outputs() {
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let first = run("export", &["--root", root_arg, "--beneficiaries", "20"]);
    assert!(first.status.success(), "{}", stderr(&first));

    let again = run(
        "export",
        &[
            "--root",
            root_arg,
            "--beneficiaries",
            "20",
            "--resume",
            "--json",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let text = stderr(&again);
    assert!(
        text.contains("job ABC-DEF (Z9000) was completed earlier: 1 outputs in"),
        "{text}"
    );
    assert!(text.contains("Z9000_0001.ndjson"), "the outputs: {text}");
    assert!(
        !text.contains("beneficiaries 0/"),
        "no zero counters: {text}"
    );
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["completed_earlier"], true);
    assert_eq!(report["outputs"][0]["file"], "Z9000_0001.ndjson");

    let first: serde_json::Value = serde_json::from_slice(
        &run(
            "export",
            &[
                "--root",
                root_arg,
                "--job-id",
                "J2",
                "--beneficiaries",
                "5",
                "--json",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        first.get("completed_earlier").is_none(),
        "said only when true: {first}"
    );
}

#[test]
fn helps_share_one_layout() {
    for example in ["export", "aggregate"] {
        let output = run(example, &["--help"]);
        assert!(output.status.success());
        let help = String::from_utf8(output.stdout).unwrap();
        assert!(help.contains("--root <DIR>"), "{example}: {help}");
        assert!(help.contains("--max-mb <MIB>"), "{example}: {help}");
        for line in help.lines() {
            let line = line.trim();
            // Each default stands on its option's line, never on a line of its
            // own (clap's long layout), and every option has its help text.
            assert!(!line.starts_with("[default:"), "{example}: {help}");
            if line.starts_with("--") && !line.starts_with("--help") {
                assert!(line.contains("  "), "{example}: {line:?} has no help");
            }
        }
    }
    let export = String::from_utf8(run("export", &["--help"]).stdout).unwrap();
    for heading in ["Job:", "Synthetic source:", "Source:"] {
        assert!(export.contains(heading), "{export}");
    }
}
