//! Worker processes and submitters on one machine, for the multi-process tests
//! and the scale-out bench: the `worker` and `export` examples, built with the
//! `postgres` feature, run as child processes against a real PostgreSQL and a
//! job root in a temp dir (the shared filesystem of a deployment).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The example programs, built once per test process in its profile.
pub struct Binaries {
    pub worker: PathBuf,
    pub export: PathBuf,
}

/// Builds `worker` and `export` with the `postgres` feature.
pub fn binaries() -> &'static Binaries {
    static BUILT: OnceLock<Binaries> = OnceLock::new();
    BUILT.get_or_init(|| {
        // This test runs as <target>/<profile>/deps/<test>.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let target_dir = profile_dir.parent().unwrap();
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .args(["build", "-p", "claims-aggregator", "--features", "postgres"])
            .args(["--example", "worker", "--example", "export"])
            .arg("--target-dir")
            .arg(target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cargo.arg("--release");
            }
            other => {
                cargo.args(["--profile", other]);
            }
        }
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_PKG_") || key.starts_with("CARGO_MANIFEST_") {
                cargo.env_remove(key.as_ref());
            }
        }
        let status = cargo.status().expect("cargo build of the examples");
        assert!(status.success(), "building worker and export failed");
        Binaries {
            worker: profile_dir.join("examples/worker"),
            export: profile_dir.join("examples/export"),
        }
    })
}

/// One multi-process test at a time: each runs several processes on a
/// machine of two cores.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A worker process, killed when dropped.
pub struct WorkerProcess {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    /// Starts `worker --worker-id name` on `db` and `root`, with `extra` flags,
    /// logging to `<root>/../<name>.log`.
    pub fn start(db: &str, root: &Path, name: &str, extra: &[&str]) -> WorkerProcess {
        let log = root.parent().unwrap().join(format!("{name}.log"));
        let child = Command::new(&binaries().worker)
            .args(["--db", db, "--worker-id", name, "--root"])
            .arg(root)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("the worker starts");
        WorkerProcess {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, signal: i32) {
        assert_eq!(
            unsafe { libc::kill(self.pid(), signal) },
            0,
            "kill {signal}"
        );
    }

    /// Waits until it has connected and started working.
    pub async fn ready(&self) {
        let what = format!("worker {} to start", self.name);
        wait_for(&what, Duration::from_secs(60), || async {
            self.log().contains("working on").then_some(())
        })
        .await
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly.
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
        self.kill9();
    }
}

/// `export` with `args`, as a child process to await.
pub fn export(args: &[&str]) -> Command {
    let mut command = Command::new(&binaries().export);
    command.args(args).stdin(Stdio::null());
    command
}

/// Runs `export` with `args` to its end.
pub fn run_export(args: &[&str]) -> Output {
    export(args).output().expect("export runs")
}

pub fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every record of the job's outputs (data and errors), sorted: what the job
/// exported, whatever the order and grouping of its outputs.
pub fn record_set(job_dir: &Path) -> Vec<String> {
    let mut records = Vec::new();
    for entry in fs::read_dir(job_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".ndjson") && !name.starts_with('.') {
            let body = fs::read_to_string(job_dir.join(&name)).unwrap();
            records.extend(body.lines().map(str::to_owned));
        }
    }
    records.sort();
    records
}

/// The record set of the same job run in one process, no database.
pub fn single_process_record_set(scratch: &Path, job_flags: &[&str]) -> Vec<String> {
    let root = scratch.join("single");
    if root.join("SINGLE").is_dir() {
        return record_set(&root.join("SINGLE"));
    }
    fs::create_dir_all(&root).unwrap();
    let root_text = root.to_str().unwrap();
    let mut args = vec!["--root", root_text, "--job-id", "SINGLE"];
    args.extend_from_slice(job_flags);
    let output = run_export(&args);
    assert!(output.status.success(), "{}", text(&output));
    record_set(&root.join("SINGLE"))
}

/// The outputs in a job directory: every entry is an output or the lock file
/// (no part, temp file or working directory is left behind); data and error
/// outputs each numbered 1, 2, … without a gap or a repeat.
pub fn assert_only_outputs(job_dir: &Path, contract: &str) {
    let mut numbers: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut names: Vec<String> = fs::read_dir(job_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    for name in &names {
        if name == ".lock" {
            continue;
        }
        let rest = name
            .strip_prefix(&format!("{contract}_"))
            .unwrap_or_else(|| panic!("{name} left in {}: {names:?}", job_dir.display()));
        let (number, kind) = match rest.strip_suffix("_error.ndjson") {
            Some(n) => (n, "error"),
            None => (
                rest.strip_suffix(".ndjson")
                    .unwrap_or_else(|| panic!("{name} is no output")),
                "data",
            ),
        };
        numbers
            .entry(kind)
            .or_default()
            .push(number.parse().unwrap());
    }
    for (kind, mut found) in numbers {
        found.sort();
        let expected: Vec<u32> = (1..=found.len() as u32).collect();
        assert_eq!(
            found, expected,
            "{kind} outputs numbered without gap or repeat"
        );
    }
}

/// Polls `check` every 50 ms until it answers `Some`, for at most `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain client of the test database, for what the library does not ask.
pub async fn sql(conninfo: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    actix_rt::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// What differs between two record sets, and which outputs hold the first
/// surplus record: for the message of a failed comparison.
pub fn explain_difference(job_dir: &Path, got: &[String], expected: &[String]) -> String {
    let count = |set: &[String]| {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for record in set {
            *counts.entry(record.clone()).or_default() += 1;
        }
        counts
    };
    let (got_counts, expected_counts) = (count(got), count(expected));
    let surplus: Vec<&String> = got_counts
        .iter()
        .filter(|(r, n)| **n > expected_counts.get(*r).copied().unwrap_or(0))
        .map(|(r, _)| r)
        .collect();
    let missing = expected_counts
        .iter()
        .filter(|(r, n)| **n > got_counts.get(*r).copied().unwrap_or(0))
        .count();
    let holders: Vec<String> = surplus
        .first()
        .map(|record| {
            fs::read_dir(job_dir)
                .unwrap()
                .filter_map(|e| {
                    let name = e.unwrap().file_name().into_string().unwrap();
                    let body = fs::read_to_string(job_dir.join(&name)).ok()?;
                    body.lines().any(|l| l == record.as_str()).then_some(name)
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} records too many (the first in {holders:?}: {}), {missing} missing",
        surplus.len(),
        surplus
            .first()
            .map(|r| &r[..r.len().min(160)])
            .unwrap_or("")
    )
}
