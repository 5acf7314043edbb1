//! Exactly once against anything found in a job directory: an interrupted job
//! is edited the way hand edits, other processes and hostile links would, then
//! resumed (`export --resume`: `run_job` with `resume`) and, separately,
//! aggregated by the standalone aggregator (`aggregate`: an [`Aggregator`] in
//! watch mode). Each case ends in the exact expected record set or in a refusal
//! naming the file at fault; nothing outside the job directory is read or
//! changed, and nothing hangs.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use actix::Actor;
use claims_aggregator::{
    journal, run_job, Aggregator, AwaitCompletion, FileKind, JobConfig, JobLayout, JobStatus,
};
use common::*;

const BENEFICIARIES: u64 = 200;
const BATCH: usize = 5;
const SEED: u64 = 9;
const FAILURE_RATE: f64 = 0.05;
/// Longest a resume or an aggregation may take before the case counts as hung.
const LIMIT: Duration = Duration::from_secs(60);

fn job_config(root: &Path) -> JobConfig {
    config(root)
        .max_bytes(48 * 1024)
        .multiplier(1)
        .batch_size(BATCH)
        .concurrency(4)
        .max_failure_rate(1.0)
        .resume(true)
        .build()
        .unwrap()
}

/// What a case must end in.
#[derive(Clone, Copy)]
enum Expect {
    /// The expected records, each once.
    Exact,
    /// A refusal whose message names this.
    Refused(&'static str),
}

/// An interrupted job under `root`: an injected I/O error after its fourth
/// output was published stopped it with outputs, a journal, a claim and
/// waiting parts in place, as a crash would.
fn interrupted(root: &Path) -> JobLayout {
    let config = job_config(root);
    fail::cfg("combine::published", "3*off->return(eio)").unwrap();
    let report = actix::System::new()
        .block_on(run_job(
            config.clone(),
            synthetic_source(SEED, FAILURE_RATE),
            beneficiaries(BENEFICIARIES),
        ))
        .unwrap();
    fail::remove("combine::published");
    assert!(
        matches!(report.status, JobStatus::Failed(_)),
        "{:?}",
        report.status
    );
    config.layout()
}

/// Batch numbers recorded in the journal.
fn journaled_batches(layout: &JobLayout) -> BTreeSet<u64> {
    journal::read(&layout.journal())
        .unwrap()
        .iter()
        .filter(|e| e.kind == FileKind::Data)
        .flat_map(|e| {
            e.parts
                .iter()
                .filter_map(|p| JobLayout::batch_of_part(&p))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A batch that is done (in the journal) and one that is not (its parts are
/// removed if it waited, as if it had never been fetched).
fn batches(layout: &JobLayout) -> (u64, u64) {
    let done = *journaled_batches(layout)
        .first()
        .expect("a journaled batch");
    let last = BENEFICIARIES.div_ceil(BATCH as u64);
    let not_done = (1..=last)
        .rev()
        .find(|b| !journaled_batches(layout).contains(b))
        .expect("a batch outside the journal");
    for kind in FileKind::ALL {
        let _ = fs::remove_file(layout.finished_part(not_done, kind));
    }
    (done, not_done)
}

/// Every record the job directory holds for aggregation: outputs, the parts
/// waiting in `finished/`, and those of claims whose outputs were not published.
fn held_records(layout: &JobLayout) -> BTreeSet<Vec<u8>> {
    let mut records = BTreeSet::new();
    let mut add = |path: PathBuf| {
        let body = fs::read(&path).unwrap();
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(
                records.insert(line.to_vec()),
                "{} repeats a record",
                path.display()
            );
        }
    };
    for name in dir_names(layout.job_dir()) {
        if layout.parse_output_name(&name).is_some() {
            add(layout.job_dir().join(name));
        }
    }
    for name in dir_names(layout.finished()) {
        let path = layout.finished().join(&name);
        if FileKind::of_part(&name).is_some() {
            add(path);
        } else if let Some(claim) = name.strip_prefix(".claim-") {
            // A claim's parts are held unless its output was published.
            let (kind, number) = claim.split_once('-').unwrap();
            let kind = if kind == "data" {
                FileKind::Data
            } else {
                FileKind::Error
            };
            if !layout.output(kind, number.parse().unwrap()).exists() {
                dir_names(&path).into_iter().for_each(|p| add(path.join(p)));
            }
        }
    }
    records
}

/// Files outside the job directory that links point at, and their state.
struct Outside {
    dir: PathBuf,
    file: PathBuf,
    before: (Vec<u8>, SystemTime, Vec<String>),
}

impl Outside {
    fn new(root: &Path) -> Self {
        let dir = root.join("outside");
        fs::create_dir(&dir).unwrap();
        let file = dir.join("passwd");
        fs::write(&file, b"{\"resourceType\":\"Secret\"}\n").unwrap();
        fs::write(dir.join("tmp_000001.ndjson"), b"{\"id\":\"outside\"}\n").unwrap();
        let before = Self::state(&dir, &file);
        Outside { dir, file, before }
    }

    fn state(dir: &Path, file: &Path) -> (Vec<u8>, SystemTime, Vec<String>) {
        let mut names = dir_names(dir);
        names.sort();
        (
            fs::read(file).unwrap(),
            fs::metadata(file).unwrap().modified().unwrap(),
            names,
        )
    }

    fn assert_untouched(&self, case: &str) {
        assert!(
            Self::state(&self.dir, &self.file) == self.before,
            "{case}: the outside directory changed"
        );
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

type Edit = fn(&JobLayout, &Outside, u64) -> Option<std::os::unix::net::UnixListener>;

/// The hostile states: what is done to the interrupted directory (given the
/// batch to name), for a done and a not-done batch where it names a part.
fn cases() -> Vec<(&'static str, Edit, Expect, Expect)> {
    fn part(layout: &JobLayout, batch: u64) -> PathBuf {
        layout.finished_part(batch, FileKind::Data)
    }
    fn first_output(layout: &JobLayout) -> PathBuf {
        layout.output(FileKind::Data, 1)
    }
    vec![
        (
            "symlink to a file, named like a part",
            |l, o, b| {
                std::os::unix::fs::symlink(&o.file, part(l, b)).unwrap();
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "symlink to a directory, named like a part",
            |l, o, b| {
                std::os::unix::fs::symlink(&o.dir, part(l, b)).unwrap();
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "dangling symlink, named like a part",
            |l, o, b| {
                std::os::unix::fs::symlink(o.dir.join("none"), part(l, b)).unwrap();
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "directory, named like a part",
            |l, _, b| {
                fs::create_dir(part(l, b)).unwrap();
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "FIFO, named like a part",
            |l, _, b| {
                mkfifo(&part(l, b));
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "socket, named like a part",
            |l, _, b| Some(std::os::unix::net::UnixListener::bind(part(l, b)).unwrap()),
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "finished/ is a symlink",
            |l, o, _| {
                fs::rename(l.finished(), l.job_dir().join("moved")).unwrap();
                std::os::unix::fs::symlink(&o.dir, l.finished()).unwrap();
                None
            },
            Expect::Refused("finished"),
            Expect::Refused("finished"),
        ),
        (
            "streaming/ is a symlink",
            |l, o, _| {
                let _ = fs::remove_dir_all(l.streaming());
                std::os::unix::fs::symlink(&o.dir, l.streaming()).unwrap();
                None
            },
            Expect::Refused("streaming"),
            Expect::Refused("streaming"),
        ),
        (
            "an output deleted",
            |l, _, _| {
                fs::remove_file(first_output(l)).unwrap();
                None
            },
            Expect::Refused("Z9000_0001.ndjson"),
            Expect::Refused("Z9000_0001.ndjson"),
        ),
        (
            "an output truncated",
            |l, _, _| {
                let len = fs::metadata(first_output(l)).unwrap().len();
                fs::File::options()
                    .write(true)
                    .open(first_output(l))
                    .unwrap()
                    .set_len(len / 2)
                    .unwrap();
                None
            },
            Expect::Refused("Z9000_0001.ndjson"),
            Expect::Refused("Z9000_0001.ndjson"),
        ),
        (
            "an output appended to",
            |l, _, _| {
                use std::io::Write;
                let mut f = fs::File::options()
                    .append(true)
                    .open(first_output(l))
                    .unwrap();
                f.write_all(b"{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"added\"}\n")
                    .unwrap();
                None
            },
            Expect::Refused("Z9000_0001.ndjson"),
            Expect::Refused("Z9000_0001.ndjson"),
        ),
        (
            "an output replaced by a symlink to its copy",
            |l, o, _| {
                let copy = o.dir.with_file_name("copy.ndjson");
                fs::rename(first_output(l), &copy).unwrap();
                std::os::unix::fs::symlink(&copy, first_output(l)).unwrap();
                None
            },
            Expect::Refused("Z9000_0001.ndjson"),
            Expect::Refused("Z9000_0001.ndjson"),
        ),
        (
            "journal truncated mid-line",
            |l, _, _| {
                let journal = fs::read(l.journal()).unwrap();
                let last_line = journal[..journal.len() - 1]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let cut = last_line + (journal.len() - last_line) / 2;
                fs::write(l.journal(), &journal[..cut]).unwrap();
                None
            },
            Expect::Exact,
            Expect::Refused(".journal"),
        ),
        (
            "journal truncated mid-file",
            |l, _, _| {
                let journal = fs::read(l.journal()).unwrap();
                let first_line = journal.iter().position(|&b| b == b'\n').unwrap() + 1;
                let cut = first_line + (journal.len() - first_line) / 3;
                fs::write(l.journal(), &journal[..cut]).unwrap();
                None
            },
            Expect::Exact,
            Expect::Refused(".journal"),
        ),
        (
            "journal lines reordered",
            |l, _, _| {
                let journal = fs::read_to_string(l.journal()).unwrap();
                let mut lines: Vec<&str> = journal.lines().collect();
                lines.reverse();
                fs::write(l.journal(), lines.join("\n") + "\n").unwrap();
                None
            },
            Expect::Exact,
            Expect::Exact,
        ),
        (
            "a foreign output the journal does not know",
            |l, _, _| {
                fs::copy(first_output(l), l.output(FileKind::Data, 90)).unwrap();
                None
            },
            Expect::Exact,
            Expect::Refused(".journal"),
        ),
    ]
}

/// `export --resume` over the edited directory.
fn resume(root: &Path) -> Result<claims_aggregator::JobReport, String> {
    let run = run_job(
        job_config(root),
        synthetic_source(SEED, FAILURE_RATE),
        beneficiaries(BENEFICIARIES),
    );
    let report = actix::System::new()
        .block_on(async { actix_rt::time::timeout(LIMIT, run).await })
        .expect("the resume hangs")
        .map_err(|e| e.to_string())?;
    match &report.status {
        JobStatus::Completed => Ok(report),
        other => Err(format!("{other:?}")),
    }
}

/// `aggregate` over the edited directory, its writers gone.
fn aggregate(root: &Path) -> Result<(), String> {
    let config = job_config(root);
    let layout = config.layout();
    if !claims_aggregator::internals::untrusted::is_symlink(layout.streaming()).unwrap() {
        let _ = fs::remove_dir_all(layout.streaming());
    }
    actix::System::new().block_on(async move {
        let aggregator = Aggregator::new(&config)
            .watch(Duration::from_millis(10))
            .start();
        let answer = actix_rt::time::timeout(LIMIT, aggregator.send(AwaitCompletion))
            .await
            .expect("the aggregator hangs")
            .unwrap();
        answer.map(|_| ()).map_err(|e| e.to_string())
    })
}

#[test]
fn hostile_directory_states_end_exact_or_refused() {
    let scenario = fail::FailScenario::setup();
    let ids = beneficiaries(BENEFICIARIES);
    let source = synthetic_source(SEED, FAILURE_RATE);
    let failed: Vec<String> = ids.iter().filter(|id| source.fails(id)).cloned().collect();
    for (case, edit, on_resume, on_aggregate) in cases() {
        let named_parts = case.contains("named like a part");
        for done in [true, false].into_iter().filter(|&d| d || named_parts) {
            let case = if named_parts {
                format!(
                    "{case} (of a {} batch)",
                    if done { "done" } else { "not-done" }
                )
            } else {
                case.to_owned()
            };

            // export --resume
            let root = tempfile::tempdir().unwrap();
            let outside = Outside::new(root.path());
            let layout = interrupted(root.path());
            let (done_batch, not_done) = batches(&layout);
            let _socket = edit(&layout, &outside, if done { done_batch } else { not_done });
            match (on_resume, resume(root.path())) {
                (Expect::Exact, Ok(report)) => {
                    assert_exactly_once(layout.job_dir(), &report, &source, &ids, &failed);
                }
                (Expect::Refused(name), Err(e)) => {
                    assert!(
                        e.contains(name),
                        "{case}: resume refused naming {name}: {e}"
                    )
                }
                (_, outcome) => panic!("{case}: resume: {:?}", outcome.map(|r| r.status)),
            }
            outside.assert_untouched(&case);

            // aggregate
            let root = tempfile::tempdir().unwrap();
            let outside = Outside::new(root.path());
            let layout = interrupted(root.path());
            let (done_batch, not_done) = batches(&layout);
            let expected = held_records(&layout);
            let _socket = edit(&layout, &outside, if done { done_batch } else { not_done });
            match (on_aggregate, aggregate(root.path())) {
                (Expect::Exact, Ok(())) => {
                    let mut records = BTreeSet::new();
                    for output in journal::outputs(&layout).unwrap() {
                        let body = fs::read(layout.job_dir().join(&output.file)).unwrap();
                        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            assert!(records.insert(line.to_vec()), "{case}: a record twice");
                        }
                    }
                    for name in dir_names(layout.job_dir()) {
                        assert!(
                            name.starts_with('.') || name == "finished" || {
                                let known = journal::outputs(&layout).unwrap();
                                known.iter().any(|o| o.file == name)
                            },
                            "{case}: {name} is not accounted for"
                        );
                    }
                    let missing = expected.difference(&records).count();
                    let added: Vec<_> = records
                        .difference(&expected)
                        .map(|r| String::from_utf8_lossy(&r[..r.len().min(80)]).into_owned())
                        .take(3)
                        .collect();
                    assert!(
                        missing == 0 && added.is_empty(),
                        "{case}: aggregate's records differ: {missing} missing, added {added:?}"
                    );
                }
                (Expect::Refused(name), Err(e)) => {
                    assert!(
                        e.contains(name),
                        "{case}: aggregate refused naming {name}: {e}"
                    )
                }
                (_, outcome) => panic!("{case}: aggregate: {outcome:?}"),
            }
            outside.assert_untouched(&case);
        }
    }
    scenario.teardown();
}
