//! The aggregator alone over a job directory written by another process: it
//! adopts parts as they appear in `finished/`, finishes when `streaming/` is gone,
//! continues numbering after outputs already there, and leaves stray files alone.

mod common;

use std::collections::HashSet;
use std::fs;
use std::process::Command;
use std::time::Duration;

use actix::Actor;
use claims_aggregator::{journal, Aggregator, AwaitCompletion, FileKind};
use common::*;

/// Shell script of a writer process: 40 data parts and one error part without
/// a trailing newline, each written in streaming/ and moved to finished/, then
/// streaming/ removed.
const WRITER: &str = r#"
set -e
cd "$1"
i=1
while [ $i -le 40 ]; do
  printf '{"resourceType":"ExplanationOfBenefit","id":"w-%d","pad":"%0200d"}\n' $i 0 > streaming/tmp_w$i.ndjson
  printf '{"resourceType":"ExplanationOfBenefit","id":"w-%d-b","pad":"%0200d"}\n' $i 0 >> streaming/tmp_w$i.ndjson
  mv streaming/tmp_w$i.ndjson finished/
  i=$((i + 1))
done
printf '{"resourceType":"OperationOutcome","id":"e-1"}' > streaming/tmp_w1_error.ndjson
mv streaming/tmp_w1_error.ndjson finished/
rmdir streaming
"#;

#[actix::test]
async fn adopts_parts_written_by_another_process() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path())
        .max_bytes(2048)
        .multiplier(2)
        .build()
        .unwrap();
    let layout = cfg.layout();
    fs::create_dir_all(layout.streaming()).unwrap();
    fs::create_dir_all(layout.finished()).unwrap();
    // An output from an earlier aggregator, and a file that is not a part.
    fs::write(layout.output(FileKind::Data, 1), b"{\"id\":\"earlier\"}\n").unwrap();
    fs::write(layout.finished().join("notes.txt"), b"keep me").unwrap();

    let aggregator = Aggregator::new(&cfg)
        .watch(Duration::from_millis(5))
        .start();
    let job_dir = layout.job_dir().to_owned();
    let status = actix_rt::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(WRITER)
            .arg("writer")
            .arg(&job_dir)
            .status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());

    let count = aggregator.send(AwaitCompletion).await.unwrap().unwrap();
    let outputs = journal::outputs(&layout).unwrap();
    assert_eq!(count, outputs.len() as u64);
    assert!(count >= 10, "{count} outputs of at most 2048 bytes");
    assert_eq!(
        outputs[0].file, "Z9000_0002.ndjson",
        "numbering continues after 0001"
    );
    assert_eq!(outputs.last().unwrap().file, "Z9000_0001_error.ndjson");

    let mut ids = HashSet::new();
    for output in outputs.iter().filter(|o| o.kind == FileKind::Data) {
        assert!(output.bytes <= 2048);
        let body = fs::read_to_string(layout.job_dir().join(&output.file)).unwrap();
        for line in body.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                ids.insert(v["id"].as_str().unwrap().to_owned()),
                "duplicate {line}"
            );
        }
    }
    assert_eq!(ids.len(), 80, "every record of every part exactly once");
    let errors = fs::read(layout.output(FileKind::Error, 1)).unwrap();
    assert_eq!(
        errors, b"{\"resourceType\":\"OperationOutcome\",\"id\":\"e-1\"}\n",
        "newline added"
    );

    // The stray file is left alone, so finished/ stays, holding only it.
    assert_eq!(dir_names(layout.finished()), ["notes.txt"]);
}

#[actix::test]
async fn finishes_at_once_when_streaming_is_already_gone() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path()).max_bytes(1 << 20).build().unwrap();
    let layout = cfg.layout();
    fs::create_dir_all(layout.finished()).unwrap();
    fs::write(layout.finished().join("tmp_a.ndjson"), b"{\"id\":1}\n").unwrap();
    fs::write(layout.finished().join("tmp_b.ndjson"), b"").unwrap();
    let aggregator = Aggregator::new(&cfg)
        .watch(Duration::from_secs(3600))
        .start();
    let count = aggregator.send(AwaitCompletion).await.unwrap().unwrap();
    assert_eq!(count, 1);
    assert!(!layout.finished().exists());
    assert_eq!(
        fs::read(layout.output(FileKind::Data, 1)).unwrap(),
        b"{\"id\":1}\n"
    );
}

#[actix::test]
async fn the_size_cap_counts_the_newlines_the_combine_adds() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path()).max_bytes(1000).build().unwrap();
    let layout = cfg.layout();
    fs::create_dir_all(layout.finished()).unwrap();
    // Parts of 100 bytes without a final newline: ten fill 1000 bytes, and
    // 1010 once their newlines are added.
    for i in 0..40 {
        let record = format!("{{\"id\":\"p{i:03}\",\"pad\":\"{}\"}}", "x".repeat(78));
        assert_eq!(record.len(), 100);
        fs::write(layout.finished().join(format!("tmp_w{i}.ndjson")), record).unwrap();
    }
    let aggregator = Aggregator::new(&cfg)
        .watch(Duration::from_secs(3600))
        .start();
    aggregator.send(AwaitCompletion).await.unwrap().unwrap();
    let mut ids = HashSet::new();
    for output in journal::outputs(&layout).unwrap() {
        assert!(
            output.bytes <= 1000,
            "{}: {} bytes",
            output.file,
            output.bytes
        );
        let body = fs::read_to_string(layout.job_dir().join(&output.file)).unwrap();
        assert_eq!(body.len() as u64, output.bytes);
        for line in body.lines() {
            assert!(ids.insert(line[7..11].to_owned()), "duplicate {line}");
        }
    }
    assert_eq!(ids.len(), 40);
}

#[actix::test]
async fn a_symlinked_finished_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path()).max_bytes(1000).build().unwrap();
    let layout = cfg.layout();
    fs::create_dir_all(layout.job_dir()).unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("tmp_a.ndjson"), b"{\"id\":1}\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, layout.finished()).unwrap();
    let aggregator = Aggregator::new(&cfg)
        .watch(Duration::from_secs(3600))
        .start();
    let err = aggregator
        .send(AwaitCompletion)
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("finished") && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(
        dir_names(&elsewhere),
        ["tmp_a.ndjson"],
        "nothing outside touched"
    );
    assert_eq!(dir_names(layout.job_dir()), ["finished"]);
}
