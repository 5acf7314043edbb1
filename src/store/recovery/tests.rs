use super::*;
use crate::store::part_names::PartNames;

/// A job's record (the supervisor's tests use it too).
pub(crate) fn meta() -> JobMeta {
    JobMeta {
        job_id: "J".into(),
        contract: "Z9000".into(),
        batch_size: 10,
        boot_id: None,
        sync_parts: true,
        completed: None,
    }
}

fn layout(root: &Path) -> JobLayout {
    JobLayout::new(root.join("J"), "streaming", "finished", "Z9000")
}

/// A claim of data output `number` holding the part `name`.
fn claimed(l: &JobLayout, number: u32, name: &str, body: &[u8]) {
    let claim = l.claim_dir(FileKind::Data, number);
    fs::create_dir(&claim).unwrap();
    fs::write(claim.join(name), body).unwrap();
}

/// Writes data output `number` holding `body`, journaled as made of `parts`
/// (the supervisor's tests use it too).
pub(crate) fn publish(l: &JobLayout, number: u32, body: &[u8], parts: &[&str]) -> JobOutput {
    let path = l.output(FileKind::Data, number);
    fs::write(&path, body).unwrap();
    let summary = describe(&path).unwrap();
    let output = JobOutput {
        file: l.output_name(FileKind::Data, number),
        kind: FileKind::Data,
        bytes: summary.bytes,
        records: summary.records,
        sha256: summary.sha256,
        compressed_bytes: None,
    };
    journal::append(
        &l.journal(),
        &JournalEntry {
            kind: FileKind::Data,
            output: Some(output.clone()),
            parts: std::borrow::Cow::Owned(PartNames::from_names(parts.iter().copied())),
            voids: None,
        },
    )
    .unwrap();
    output
}

#[test]
fn a_fresh_directory_is_created_and_locked() {
    let root = tempfile::tempdir().unwrap();
    let l = layout(root.path());
    let (_lock, state) = open_job(&l, &meta(), false, false).unwrap();
    assert_eq!(state, JobState::Fresh);
    assert!(l.streaming().is_dir() && l.finished().is_dir());
    let err = open_job(&l, &meta(), true, false).unwrap_err().to_string();
    assert!(err.contains("in use by another running job"), "{err}");
}

#[test]
fn claims_are_finished_or_redone_and_leftovers_discarded() {
    let root = tempfile::tempdir().unwrap();
    let l = layout(root.path());
    drop(open_job(&l, &meta(), false, false).unwrap());
    // Output 1 was journaled and published: its claim is just released.
    publish(&l, 1, b"a\n", &["tmp_000001.ndjson"]);
    claimed(&l, 1, "tmp_000001.ndjson", b"a\n");
    // Output 2 was not: its parts return to finished/.
    claimed(&l, 2, "tmp_000002.ndjson", b"b\n");
    fs::write(l.temp_output(FileKind::Data, 2), b"partial").unwrap();
    // Batch 3 finished, batch 4 only got its error part across, batch 5 is unfinished.
    fs::write(l.finished_part(3, FileKind::Data), b"c\n").unwrap();
    fs::write(l.finished_part(3, FileKind::Error), b"e3\n").unwrap();
    fs::write(l.finished_part(4, FileKind::Error), b"e4\n").unwrap();
    fs::write(l.streaming_part(5, FileKind::Data), b"half").unwrap();

    let (_lock, state) = open_job(&l, &meta(), true, false).unwrap();
    let JobState::Resumed { done_batches } = state else {
        panic!("{state:?}")
    };
    // Batch 1 is in the journal (output 1), 2 and 3 wait in finished/.
    assert_eq!(done_batches, HashSet::from([1, 2, 3]));
    let mut finished: Vec<_> = fs::read_dir(l.finished())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    finished.sort();
    assert_eq!(
        finished,
        [
            "tmp_000002.ndjson",
            "tmp_000003.ndjson",
            "tmp_000003_error.ndjson"
        ]
    );
    assert_eq!(fs::read_dir(l.streaming()).unwrap().count(), 0);
    assert!(!l.temp_output(FileKind::Data, 2).exists());
}

#[test]
fn unsynced_parts_are_fetched_again_after_a_restart() {
    for (boot, kept) in [
        (Some("another-boot"), false),
        (crate::store::lock::boot_id(), true),
    ] {
        let root = tempfile::tempdir().unwrap();
        let l = layout(root.path());
        let unsynced = JobMeta {
            boot_id: boot.map(str::to_owned),
            sync_parts: false,
            ..meta()
        };
        drop(open_job(&l, &unsynced, false, false).unwrap());
        // Batch 1 is in the journal (its output is durable); batch 2 was
        // claimed for an output never published; batch 3 waits.
        let journaled = PartNames::from_names(["tmp_000001.ndjson"]);
        journal::append(
            &l.journal(),
            &journal::JournalEntry {
                kind: FileKind::Data,
                output: None,
                parts: std::borrow::Cow::Owned(journaled),
                voids: None,
            },
        )
        .unwrap();
        claimed(&l, 1, "tmp_000002.ndjson", b"b\n");
        fs::write(l.finished_part(3, FileKind::Data), b"c\n").unwrap();
        fs::write(l.finished_part(3, FileKind::Error), b"e3\n").unwrap();

        let (lock, state) = open_job(&l, &meta(), true, false).unwrap();
        let JobState::Resumed { done_batches } = state else {
            panic!("{state:?}")
        };
        let parts_left = fs::read_dir(l.finished()).unwrap().count();
        // A syncing owner that keeps unsynced parts must not vouch for them.
        let recorded = lock.meta().unwrap().unwrap();
        assert_eq!(recorded.sync_parts, !kept, "{boot:?}");
        if kept {
            assert_eq!(done_batches, HashSet::from([1, 2, 3]), "{boot:?}");
            assert_eq!(parts_left, 3);
        } else {
            assert_eq!(done_batches, HashSet::from([1]), "{boot:?}");
            assert_eq!(parts_left, 0);
        }
    }
}

#[test]
fn refusals_name_the_cause() {
    let root = tempfile::tempdir().unwrap();
    let l = layout(root.path());
    drop(open_job(&l, &meta(), false, false).unwrap());
    fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
    let err = open_job(&l, &meta(), false, false).unwrap_err().to_string();
    assert!(
        err.contains("already holds") && err.contains("resume"),
        "{err}"
    );
    let other = JobMeta {
        batch_size: 7,
        ..meta()
    };
    let err = open_job(&l, &other, true, false).unwrap_err().to_string();
    assert!(err.contains("batch size 10"), "{err}");

    fs::remove_dir(l.finished()).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), l.finished()).unwrap();
    let err = open_job(&l, &meta(), true, false).unwrap_err().to_string();
    assert!(
        err.contains("finished") && err.contains("symbolic link"),
        "{err}"
    );
}

#[test]
fn a_completed_job_is_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let l = layout(root.path());
    drop(open_job(&l, &meta(), false, false).unwrap());
    fs::remove_dir(l.streaming()).unwrap();
    fs::remove_dir(l.finished()).unwrap();
    fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
    let (_lock, state) = open_job(&l, &meta(), true, false).unwrap();
    assert_eq!(state, JobState::Completed);
    assert!(!l.streaming().exists() && !l.finished().exists());
}

/// A job directory interrupted after output 1 (batches 1, 2) was made;
/// batch 3 waits in finished/.
fn interrupted(root: &Path) -> (JobLayout, JobOutput) {
    let l = layout(root);
    drop(open_job(&l, &meta(), false, false).unwrap());
    let output = publish(
        &l,
        1,
        b"a\nb\n",
        &["tmp_000001.ndjson", "tmp_000002.ndjson"],
    );
    fs::write(l.finished_part(3, FileKind::Data), b"c\n").unwrap();
    (l, output)
}

fn resumed(l: &JobLayout) -> Result<HashSet<u64>> {
    match open_job(l, &meta(), true, false)?.1 {
        JobState::Resumed { done_batches } => Ok(done_batches),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_entries_named_like_parts_are_set_aside_and_fetched_again() {
    let root = tempfile::tempdir().unwrap();
    let (l, _) = interrupted(root.path());
    let outside = root.path().join("passwd");
    fs::write(&outside, b"root:x:0:0\n").unwrap();
    std::os::unix::fs::symlink(&outside, l.finished_part(4, FileKind::Data)).unwrap();
    fs::create_dir(l.finished_part(5, FileKind::Data)).unwrap();
    let fifo =
        std::ffi::CString::new(l.finished_part(6, FileKind::Data).to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink(root.path().join("none"), l.finished_part(7, FileKind::Data))
        .unwrap();

    let done = resumed(&l).unwrap();
    assert_eq!(done, HashSet::from([1, 2, 3]), "only regular parts count");
    let mut names = dir_names(l.finished());
    names.sort();
    assert_eq!(
        names,
        [
            "tmp_000003.ndjson",
            "tmp_000004.ndjson.set-aside",
            "tmp_000005.ndjson.set-aside",
            "tmp_000006.ndjson.set-aside",
            "tmp_000007.ndjson.set-aside",
        ]
    );
    assert_eq!(fs::read(&outside).unwrap(), b"root:x:0:0\n");
}

fn dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn journaled_outputs_are_verified() {
    type Edit = fn(&Path, &Path);
    let cases: [(&str, Edit, &str); 5] = [
        ("deleted", |o, _| fs::remove_file(o).unwrap(), "missing"),
        ("truncated", |o, _| fs::write(o, b"a\n").unwrap(), "2 bytes"),
        (
            "appended to",
            |o, _| fs::write(o, b"a\nb\nc\n").unwrap(),
            "6 bytes",
        ),
        (
            "same size, other bytes",
            |o, _| fs::write(o, b"a\nc\n").unwrap(),
            "sha256",
        ),
        (
            "replaced by a symlink",
            |o, root| {
                let copy = root.join("copy");
                fs::copy(o, &copy).unwrap();
                fs::remove_file(o).unwrap();
                std::os::unix::fs::symlink(&copy, o).unwrap();
            },
            "symbolic link",
        ),
    ];
    for (case, edit, expected) in cases {
        let root = tempfile::tempdir().unwrap();
        let (l, _) = interrupted(root.path());
        edit(&l.output(FileKind::Data, 1), root.path());
        let err = resumed(&l).unwrap_err().to_string();
        assert!(
            err.contains("Z9000_0001.ndjson") && err.contains(expected),
            "{case}: {err}"
        );
        // Refused untouched: the part still waits.
        assert!(l.finished_part(3, FileKind::Data).exists(), "{case}");
    }
}

#[test]
fn outputs_the_journal_does_not_account_for_are_removed_and_refetched() {
    let root = tempfile::tempdir().unwrap();
    let (l, _) = interrupted(root.path());
    // Output 2 published, but the journal line was cut off; its claim
    // was released. A foreign copy of output 1 sits as output 7.
    fs::write(l.output(FileKind::Data, 2), b"d\n").unwrap();
    fs::copy(l.output(FileKind::Data, 1), l.output(FileKind::Data, 7)).unwrap();
    let done = resumed(&l).unwrap();
    assert_eq!(done, HashSet::from([1, 2, 3]));
    assert!(!l.output(FileKind::Data, 2).exists());
    assert!(!l.output(FileKind::Data, 7).exists());
    assert!(l.output(FileKind::Data, 1).exists());
}

#[test]
fn a_standalone_aggregation_refuses_what_it_cannot_fetch_again() {
    let root = tempfile::tempdir().unwrap();
    let (l, _) = interrupted(root.path());
    fs::write(l.output(FileKind::Data, 2), b"d\n").unwrap();
    let err = recover_aggregation(&l).unwrap_err().to_string();
    assert!(
        err.contains(".journal") && err.contains("Z9000_0002.ndjson"),
        "{err}"
    );
    assert!(l.output(FileKind::Data, 2).exists(), "refused untouched");
    // An earlier aggregation's outputs (no journal) are taken as they are.
    fs::remove_file(l.journal()).unwrap();
    recover_aggregation(&l).unwrap();
}

#[test]
fn a_completed_job_is_verified_against_its_record() {
    let root = tempfile::tempdir().unwrap();
    let l = layout(root.path());
    let (lock, _) = open_job(&l, &meta(), false, false).unwrap();
    let output = publish(&l, 1, b"a\n", &["tmp_000001.ndjson"]);
    lock.seal(&[output]).unwrap();
    fs::remove_file(l.journal()).unwrap();
    fs::remove_dir(l.streaming()).unwrap();
    // A stray left in finished/ does not make it look unfinished.
    fs::write(l.finished().join("notes.txt"), b"keep").unwrap();
    drop(lock);
    assert_eq!(
        open_job(&l, &meta(), true, false).unwrap().1,
        JobState::Completed
    );

    fs::write(l.output(FileKind::Data, 1), b"b\n").unwrap();
    let err = open_job(&l, &meta(), true, false).unwrap_err().to_string();
    assert!(
        err.contains("Z9000_0001.ndjson") && err.contains("sha256"),
        "{err}"
    );
    fs::write(l.output(FileKind::Data, 1), b"a\n").unwrap();
    fs::write(l.output(FileKind::Data, 2), b"x\n").unwrap();
    let err = open_job(&l, &meta(), true, false).unwrap_err().to_string();
    assert!(
        err.contains("Z9000_0002.ndjson") && err.contains("not one of"),
        "{err}"
    );
}

#[test]
fn an_output_journaled_but_never_published_is_voided_when_its_parts_return() {
    let root = tempfile::tempdir().unwrap();
    let (l, _) = interrupted(root.path());
    // Step 2 journaled, then a crash before the rename: claim and journal
    // line are there, the output is not.
    let output = publish(&l, 2, b"d\n", &["tmp_000004.ndjson"]);
    fs::remove_file(l.job_dir().join(&output.file)).unwrap();
    claimed(&l, 2, "tmp_000004.ndjson", b"d\n");
    assert_eq!(resumed(&l).unwrap(), HashSet::from([1, 2, 3, 4]));
    // Killed again before output 2 was made again: nothing refuses, and
    // batch 4 counts only while its part is there.
    assert_eq!(resumed(&l).unwrap(), HashSet::from([1, 2, 3, 4]));
    fs::remove_file(l.finished_part(4, FileKind::Data)).unwrap();
    assert_eq!(resumed(&l).unwrap(), HashSet::from([1, 2, 3]));
    assert!(journal::outputs(&l)
        .unwrap()
        .iter()
        .all(|o| o.file != output.file));
}

#[test]
fn a_parts_only_resume_leaves_the_aggregators_files_alone() {
    let root = tempfile::tempdir().unwrap();
    let (l, _) = interrupted(root.path());
    // An aggregator in another process is between steps: output 2 just
    // renamed (its journal line read before), output 3 being combined
    // from a claim.
    fs::write(l.output(FileKind::Data, 2), b"d\n").unwrap();
    fs::write(l.temp_output(FileKind::Data, 3), b"e").unwrap();
    claimed(&l, 3, "tmp_000005.ndjson", b"e\n");
    let (_lock, state) = open_job(&l, &meta(), true, true).unwrap();
    let JobState::Resumed { done_batches } = state else {
        panic!("{state:?}")
    };
    assert_eq!(done_batches, HashSet::from([1, 2, 3, 5]));
    assert!(l.output(FileKind::Data, 2).exists());
    assert!(l.temp_output(FileKind::Data, 3).exists());
    assert!(l
        .claim_dir(FileKind::Data, 3)
        .join("tmp_000005.ndjson")
        .exists());
}
