//! Helpers shared by the integration tests: job configs in temp directories,
//! reading outputs back, and small claims sources with controllable behaviour.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use claims_aggregator::{
    synthetic, ClaimsSource, FileKind, JobConfig, JobConfigBuilder, JobReport, Resource,
    SourceError, SyntheticConfig, SyntheticSource,
};
use futures::channel::oneshot;
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use sha2::{Digest, Sha256};

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_logging() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// A builder for job `J1` of contract `Z9000` under `root`.
pub fn config(root: &Path) -> JobConfigBuilder {
    init_logging();
    JobConfig::builder(root, "J1", "Z9000")
}

/// The ids of the first `n` synthetic beneficiaries.
pub fn beneficiaries(n: u64) -> Vec<String> {
    (0..n).map(synthetic::beneficiary_id).collect()
}

/// A synthetic source with the given seed and failure rate, no latency.
pub fn synthetic_source(seed: u64, failure_rate: f64) -> Arc<SyntheticSource> {
    Arc::new(SyntheticSource::new(SyntheticConfig {
        seed,
        failure_rate,
        ..SyntheticConfig::default()
    }))
}

/// Every line of every output of `kind` in the job directory, in output order.
pub fn output_lines(job_dir: &Path, report: &JobReport, kind: FileKind) -> Vec<serde_json::Value> {
    report
        .outputs_of(kind)
        .flat_map(|o| {
            let body = std::fs::read(job_dir.join(&o.file)).unwrap();
            body.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Checks every output against the report: size, lines, checksum.
pub fn assert_outputs_match_report(job_dir: &Path, report: &JobReport) {
    for output in &report.outputs {
        let body = std::fs::read(job_dir.join(&output.file)).unwrap();
        assert_eq!(body.len() as u64, output.bytes, "{}", output.file);
        assert_eq!(
            body.iter().filter(|&&b| b == b'\n').count() as u64,
            output.records,
            "{}",
            output.file
        );
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            output.sha256,
            "{}",
            output.file
        );
        assert_eq!(body.last(), Some(&b'\n'), "{} ends a line", output.file);
    }
}

/// Names in a directory, sorted, but the job's lock file (which stays).
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    names.sort();
    names
}

/// `Patient/<id>` of each OperationOutcome line.
pub fn failed_beneficiaries(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            assert_eq!(l["resourceType"], "OperationOutcome");
            l["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .trim_start_matches("Patient/")
                .to_owned()
        })
        .collect()
}

/// A source that answers from the synthetic generator, except that chosen
/// beneficiaries wait for a gate the test opens.
pub struct GatedSource {
    inner: SyntheticSource,
    gates: Mutex<HashMap<String, Shared<oneshot::Receiver<()>>>>,
}

impl GatedSource {
    /// Holds back `held`; returns the source and the sender that releases them.
    pub fn new(inner: SyntheticSource, held: &[String]) -> (Arc<Self>, oneshot::Sender<()>) {
        let (tx, rx) = oneshot::channel();
        let rx = rx.shared();
        let gates = held.iter().map(|id| (id.clone(), rx.clone())).collect();
        (
            Arc::new(GatedSource {
                inner,
                gates: Mutex::new(gates),
            }),
            tx,
        )
    }
}

impl ClaimsSource for GatedSource {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        let gate = self.gates.lock().unwrap().get(beneficiary).cloned();
        async move {
            if let Some(gate) = gate {
                let _ = gate.await;
            }
            self.inner.generate(beneficiary)
        }
        .boxed()
    }
}

/// A source that never answers: every fetch waits forever.
pub struct StuckSource;

impl ClaimsSource for StuckSource {
    fn fetch<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        futures::future::pending().boxed()
    }
}

/// An actor that forwards every message it gets into a channel, so that a test
/// can await events instead of polling.
pub struct Probe<M: Send + 'static>(futures::channel::mpsc::UnboundedSender<M>);

impl<M> actix::Actor for Probe<M>
where
    M: actix::Message<Result = ()> + Send + Unpin + 'static,
{
    type Context = actix::Context<Self>;
}

impl<M> actix::Handler<M> for Probe<M>
where
    M: actix::Message<Result = ()> + Send + Unpin + 'static,
{
    type Result = ();

    fn handle(&mut self, msg: M, _: &mut Self::Context) {
        let _ = self.0.unbounded_send(msg);
    }
}

/// Starts a probe; returns its recipient and the receiving end.
pub fn probe<M>() -> (
    actix::Recipient<M>,
    futures::channel::mpsc::UnboundedReceiver<M>,
)
where
    M: actix::Message<Result = ()> + Send + Unpin + 'static,
{
    use actix::Actor;
    let (tx, rx) = futures::channel::mpsc::unbounded();
    (Probe(tx).start().recipient(), rx)
}

/// Awaits the first event that satisfies `pred`, within 60 s.
pub async fn await_event<M>(
    rx: &mut futures::channel::mpsc::UnboundedReceiver<M>,
    mut pred: impl FnMut(&M) -> bool,
) -> M {
    use futures::StreamExt;
    let wait = async {
        while let Some(event) = rx.next().await {
            if pred(&event) {
                return event;
            }
        }
        panic!("event stream ended before the awaited event");
    };
    actix_rt::time::timeout(std::time::Duration::from_secs(60), wait)
        .await
        .expect("awaited event within 60 s")
}

/// Names below `dir` (recursively) whose name says they are temporary:
/// parts, claims, temp outputs, the journal.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".lock" {
            continue;
        }
        if name.starts_with("tmp_") || name.starts_with('.') || name.ends_with(".tmp") {
            found.push(entry.path().display().to_string());
        }
        if entry.file_type().unwrap().is_dir() {
            found.extend(leftovers(&entry.path()));
        }
    }
    found
}

/// What a [`ScriptedSource`] does for one beneficiary.
pub enum Script {
    /// Never answers.
    Hang,
    /// Answers with this resource next to the real ones.
    Invalid(serde_json::Value),
    /// Panics this many times, then answers normally.
    Panic(std::sync::atomic::AtomicUsize),
    /// Fails with this error.
    Fail(SourceError),
}

/// The synthetic source, with scripted misbehaviour for chosen beneficiaries.
pub struct ScriptedSource {
    pub inner: SyntheticSource,
    pub scripts: HashMap<String, Script>,
}

impl ScriptedSource {
    pub fn new(seed: u64, scripts: Vec<(String, Script)>) -> Arc<Self> {
        Arc::new(ScriptedSource {
            inner: SyntheticSource::new(SyntheticConfig {
                seed,
                ..SyntheticConfig::default()
            }),
            scripts: scripts.into_iter().collect(),
        })
    }
}

impl ClaimsSource for ScriptedSource {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        async move {
            match self.scripts.get(beneficiary) {
                Some(Script::Hang) => futures::future::pending().await,
                Some(Script::Invalid(value)) => {
                    let mut resources = self.inner.generate(beneficiary)?;
                    resources.push(Resource::from_value(value));
                    Ok(resources)
                }
                Some(Script::Panic(left)) => {
                    let before = left
                        .fetch_update(
                            std::sync::atomic::Ordering::SeqCst,
                            std::sync::atomic::Ordering::SeqCst,
                            |n| n.checked_sub(1),
                        )
                        .is_ok();
                    if before {
                        panic!("scripted panic while fetching {beneficiary}");
                    }
                    self.inner.generate(beneficiary)
                }
                Some(Script::Fail(error)) => Err(error.clone()),
                None => self.inner.generate(beneficiary),
            }
        }
        .boxed()
    }
}

/// Checks that a job's outputs hold exactly the expected claims and failures:
/// every EOB id of `ids` (but `failed`) once, every id of `failed` once in
/// the error outputs. Returns the number of data records.
pub fn assert_exactly_once(
    job_dir: &Path,
    report: &JobReport,
    source: &SyntheticSource,
    ids: &[String],
    failed: &[String],
) -> usize {
    let failed_set: std::collections::HashSet<&String> = failed.iter().collect();
    let expected: std::collections::HashSet<String> = ids
        .iter()
        .filter(|id| !failed_set.contains(id))
        .flat_map(|id| source.eob_ids(id))
        .collect();
    let data = output_lines(job_dir, report, FileKind::Data);
    let mut seen = std::collections::HashSet::new();
    for eob in &data {
        let id = eob["id"].as_str().unwrap().to_owned();
        assert!(seen.insert(id.clone()), "EOB {id} appears twice");
    }
    assert_eq!(seen.len(), expected.len(), "EOB count");
    assert!(seen == expected, "the EOB ids differ from the expected set");
    let mut errors = failed_beneficiaries(&output_lines(job_dir, report, FileKind::Error));
    errors.sort();
    let mut want: Vec<String> = failed.to_vec();
    want.sort();
    assert_eq!(errors, want, "each failed beneficiary exactly once");
    assert_outputs_match_report(job_dir, report);
    data.len()
}

/// Waits for a child process for at most `limit`; kills it and panics, naming
/// `what`, if it hangs.
pub fn wait_child(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("{what} hung for {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Where a crash test's children write their log: the test's stderr with
/// `CRASH_VERBOSE` set, nowhere otherwise.
pub fn child_stderr() -> std::process::Stdio {
    if std::env::var_os("CRASH_VERBOSE").is_some() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    }
}

/// The binary of this workspace's example `name`, built by cargo with this
/// test's profile into its target directory, so it is never stale: a no-op
/// after `cargo test --workspace` (which builds the examples), a build after
/// `cargo test --test <one>` (which does not). Built once per test process.
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    // This test runs as <target>/<profile>/deps/<test>.
    let exe = std::env::current_exe().unwrap();
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .expect("the test binary lies in <target>/<profile>/deps")
        .to_owned();
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let mut cargo = std::process::Command::new(env!("CARGO"));
    // `--workspace` resolves features as `cargo test --workspace` does, so the
    // binary that run built is the one found up to date.
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--workspace", "--example", name])
        .arg("--message-format=json-render-diagnostics")
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
    // Drop what cargo set for this test's run: build scripts that read such a
    // variable (ring reads CARGO_MANIFEST_DIR) would be rerun, and everything
    // above them rebuilt, each time this build and `cargo test` alternate.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*key,
                "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            )
        {
            cargo.env_remove(&*key);
        }
    }
    let output = cargo.output().expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --example {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == name
                && m["target"]["kind"][0] == "example"
        })
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no example named {name}"));
    built.insert(name.to_owned(), path.clone());
    path
}
