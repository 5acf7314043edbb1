//! The PostgreSQL coordination against a real server (see
//! `server/mod.rs`): migrations, claims under contention, leases and
//! fencing tokens, cancel, exhausted attempts, the aggregator lease, and the
//! requests it refuses.

#[path = "server/mod.rs"]
mod pg;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use claims_aggregator::coordination::postgres::{PgCoordinator, SCHEMA_VERSION};
use claims_aggregator::coordination::{
    BatchClaim, BatchTally, ClaimKind, CommittedPart, JobEnd, JobSpec, JobState, OutputRecord,
    Submitted,
};
use claims_aggregator::{Error, FileKind};

/// Leases in tests that wait for one to expire.
const SHORT_LEASE: Duration = Duration::from_millis(300);
/// Leases that must not expire during a test.
const LONG_LEASE: Duration = Duration::from_secs(600);
/// Longest wait for an expired lease to be taken over.
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(20);

async fn coordinator(test: &str) -> (PgCoordinator, String) {
    let _ = env_logger::builder().is_test(true).try_init();
    let conninfo = pg::fresh_database(test).await;
    let coordinator = PgCoordinator::connect(&conninfo)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (coordinator, conninfo)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("-{:05}", i + 1)).collect()
}

fn spec(job: &str, batch_size: usize) -> JobSpec {
    let mut spec = JobSpec::new(job, "Z9000");
    spec.batch_size = batch_size;
    spec
}

/// Claims for `worker` until a claim comes (a lease expires), or panics.
async fn claim_when_expired(c: &PgCoordinator, worker: &str, lease: Duration) -> BatchClaim {
    let start = Instant::now();
    loop {
        if let Some(claim) = c.claim(worker, lease).await.unwrap() {
            return claim;
        }
        assert!(start.elapsed() < TAKEOVER_DEADLINE, "no lease expired");
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

fn output(name: &str, sha: &str) -> OutputRecord {
    OutputRecord {
        name: name.to_owned(),
        kind: FileKind::Data,
        bytes: 1234,
        records: 7,
        sha256: sha.repeat(64),
    }
}

#[actix_rt::test]
async fn migrations_run_twice_and_concurrently() {
    let conninfo = pg::fresh_database("migrations").await;
    // Two processes starting at once: both migrate the empty database.
    let (a, b) = futures::join!(
        PgCoordinator::connect(&conninfo),
        PgCoordinator::connect(&conninfo)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.migrate().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(b.migrate().await.unwrap(), SCHEMA_VERSION);
    let (x, y) = futures::join!(a.migrate(), b.migrate());
    assert_eq!((x.unwrap(), y.unwrap()), (SCHEMA_VERSION, SCHEMA_VERSION));

    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    actix_rt::spawn(async move {
        let _ = connection.await;
    });
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM claims_aggregator.schema_version ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        versions,
        (1..=SCHEMA_VERSION).collect::<Vec<_>>(),
        "each migration applied once"
    );

    // A schema newer than this build is refused, naming both versions.
    client
        .execute(
            "INSERT INTO claims_aggregator.schema_version (version) VALUES ($1)",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .unwrap();
    let err = PgCoordinator::connect(&conninfo).await.unwrap_err();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

#[actix_rt::test]
async fn a_job_is_split_into_batches_in_order() {
    let (c, _) = coordinator("split").await;
    let record = c.submit(&spec("J1", 10), ids(25)).await.unwrap();
    assert_eq!(record.job_id, "J1");
    assert_eq!(record.contract, "Z9000");
    assert_eq!(record.state, JobState::Running);
    assert_eq!(record.beneficiaries, 25);
    assert_eq!(record.batches.pending, 3);
    assert_eq!(record.batches.total(), 3);

    let mut got = Vec::new();
    while let Some(claim) = c.claim("w1", LONG_LEASE).await.unwrap() {
        assert_eq!(
            (claim.token, claim.attempt, claim.kind),
            (1, 1, ClaimKind::Fetch)
        );
        assert_eq!(
            claim.part(FileKind::Data).file_name(),
            format!("tmp_{:06}-t1.ndjson", claim.batch)
        );
        got.push((claim.batch, claim.beneficiaries.clone()));
    }
    let all = ids(25);
    assert_eq!(
        got,
        vec![
            (1, all[0..10].to_vec()),
            (2, all[10..20].to_vec()),
            (3, all[20..25].to_vec())
        ]
    );
    assert_eq!(c.status("J1").await.unwrap().batches.running, 3);

    // A job bigger than one insert statement (10,000 ids) numbers on.
    let record = c.submit(&spec("J2", 7), ids(25_003)).await.unwrap();
    assert_eq!(record.batches.pending, 25_003_u64.div_ceil(7));
    assert_eq!(record.beneficiaries, 25_003);

    // An empty job has no batch.
    let record = c
        .submit(&spec("J3", 7), Vec::<String>::new())
        .await
        .unwrap();
    assert_eq!(record.batches.total(), 0);
}

#[actix_rt::test]
async fn concurrent_claimers_never_share_a_batch() {
    const CLAIMERS: usize = 8;
    const BATCHES: usize = 120;
    let (c, conninfo) = coordinator("contention").await;
    c.submit(&spec("J1", 2), ids(2 * BATCHES)).await.unwrap();
    c.submit(&spec("J2", 5), ids(5 * BATCHES)).await.unwrap();

    // Each claimer a thread with its own runtime and pool, as separate workers,
    // all starting to claim at once.
    let start = Arc::new(Barrier::new(CLAIMERS));
    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|i| {
            let conninfo = conninfo.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let worker = format!("w{i}");
                    let c = PgCoordinator::connect_with_pool_size(&conninfo, 2)
                        .await
                        .unwrap();
                    start.wait();
                    let mut claimed = Vec::new();
                    while let Some(claim) = c.claim(&worker, LONG_LEASE).await.unwrap() {
                        assert!(
                            c.complete(&claim, &BatchTally::default()).await.unwrap(),
                            "{claim:?}"
                        );
                        claimed.push((claim.job_id, claim.batch, claim.token, worker.clone()));
                    }
                    claimed
                })
            })
        })
        .collect();
    let mut by_batch: BTreeMap<(String, u64), Vec<(u64, String)>> = BTreeMap::new();
    let mut busy_workers = 0;
    for claimer in claimers {
        let claimed = claimer.join().unwrap();
        busy_workers += usize::from(!claimed.is_empty());
        for (job, batch, token, worker) in claimed {
            by_batch
                .entry((job, batch))
                .or_default()
                .push((token, worker));
        }
    }
    assert_eq!(by_batch.len(), 2 * BATCHES, "every batch claimed");
    for (batch, claims) in &by_batch {
        assert_eq!(claims.len(), 1, "{batch:?} claimed by {claims:?}");
        assert_eq!(claims[0].0, 1, "{batch:?}: first claim has token 1");
    }
    assert!(busy_workers > 1, "the claims were spread");
    for job in ["J1", "J2"] {
        let status = c.status(job).await.unwrap();
        assert_eq!(status.batches.done, BATCHES as u64, "{status:?}");
        let committed = c.committed_parts(job).await.unwrap();
        let expected: Vec<_> = (1..=BATCHES as u64)
            .map(|batch| CommittedPart {
                batch,
                token: 1,
                failed: false,
            })
            .collect();
        assert_eq!(committed, expected);
    }
}

#[actix_rt::test]
async fn an_expired_lease_is_taken_over_and_the_old_owner_fenced() {
    let (c, _) = coordinator("takeover").await;
    c.submit(&spec("J1", 10), ids(10)).await.unwrap();
    let old = c.claim("paused", SHORT_LEASE).await.unwrap().unwrap();
    assert!(
        c.claim("eager", LONG_LEASE).await.unwrap().is_none(),
        "the lease holds"
    );
    assert!(
        c.renew(&old, SHORT_LEASE).await.unwrap(),
        "the holder renews"
    );

    let new = claim_when_expired(&c, "new", LONG_LEASE).await;
    assert_eq!((new.job_id.as_str(), new.batch), ("J1", old.batch));
    assert_eq!(new.token, old.token + 1);
    assert_eq!(new.attempt, 2);
    assert_eq!(new.beneficiaries, old.beneficiaries);
    assert_ne!(new.part(FileKind::Data), old.part(FileKind::Data));

    assert!(
        !c.renew(&old, SHORT_LEASE).await.unwrap(),
        "old renew refused"
    );
    assert!(
        !c.complete(&old, &BatchTally::default()).await.unwrap(),
        "old complete refused"
    );
    assert!(c.renew(&new, LONG_LEASE).await.unwrap());
    assert!(c.complete(&new, &BatchTally::default()).await.unwrap());
    assert!(
        !c.complete(&new, &BatchTally::default()).await.unwrap(),
        "completes once"
    );
    assert!(
        !c.complete(&old, &BatchTally::default()).await.unwrap(),
        "still refused"
    );
    assert_eq!(
        c.committed_parts("J1").await.unwrap(),
        vec![CommittedPart {
            batch: 1,
            token: new.token,
            failed: false
        }]
    );
    assert!(
        c.claim("late", LONG_LEASE).await.unwrap().is_none(),
        "done for good"
    );
}

#[actix_rt::test]
async fn cancel_ends_renewals_and_claims() {
    let (c, _) = coordinator("cancel").await;
    c.submit(&spec("J1", 1), ids(3)).await.unwrap();
    let held = c.claim("w1", LONG_LEASE).await.unwrap().unwrap();
    assert!(c.renew(&held, LONG_LEASE).await.unwrap());

    assert!(c.cancel("J1").await.unwrap(), "a running job is cancelled");
    assert!(
        !c.renew(&held, LONG_LEASE).await.unwrap(),
        "renew after cancel"
    );
    assert!(
        !c.complete(&held, &BatchTally::default()).await.unwrap(),
        "complete after cancel"
    );
    assert!(
        c.claim("w2", LONG_LEASE).await.unwrap().is_none(),
        "nothing to claim"
    );
    let status = c.status("J1").await.unwrap();
    assert!(status.cancel_requested);
    assert_eq!(
        status.state,
        JobState::Running,
        "until the aggregator finishes it"
    );
    assert_eq!(status.batches.cancelled, 3);
    assert!(c.committed_parts("J1").await.unwrap().is_empty());

    // The aggregator cleans up and ends it.
    let lease = c
        .acquire_aggregator("J1", "w1", LONG_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(c.finish(&lease, &JobEnd::Cancelled).await.unwrap());
    let status = c.status("J1").await.unwrap();
    assert_eq!(status.state, JobState::Cancelled);
    assert!(status.finished_at.is_some());
    assert!(
        !c.cancel("J1").await.unwrap(),
        "an ended job is not cancelled again"
    );
    assert!(c
        .acquire_aggregator("J1", "w2", LONG_LEASE)
        .await
        .unwrap()
        .is_none());

    let err = c.cancel("nope").await.unwrap_err();
    assert_eq!(err.to_string(), "cancel job nope: no such job");
}

#[actix_rt::test]
async fn a_batch_past_its_attempts_is_handed_out_failed() {
    let (c, _) = coordinator("attempts").await;
    let mut spec = spec("J1", 4);
    spec.max_attempts = 2;
    c.submit(&spec, ids(4)).await.unwrap();

    let first = c.claim("w1", SHORT_LEASE).await.unwrap().unwrap();
    assert_eq!((first.attempt, first.kind), (1, ClaimKind::Fetch));
    let second = claim_when_expired(&c, "w2", SHORT_LEASE).await;
    assert_eq!((second.attempt, second.kind), (2, ClaimKind::Fetch));
    let third = claim_when_expired(&c, "w3", SHORT_LEASE).await;
    assert_eq!((third.attempt, third.kind), (3, ClaimKind::Failed));
    assert_eq!(third.beneficiaries, ids(4), "to write an outcome for each");
    assert_eq!(c.status("J1").await.unwrap().batches.failing, 1);

    // Its writer may die too: the failed batch is handed out again, failed.
    let fourth = claim_when_expired(&c, "w4", LONG_LEASE).await;
    assert_eq!((fourth.token, fourth.kind), (4, ClaimKind::Failed));
    assert!(!c.complete(&third, &BatchTally::default()).await.unwrap());
    assert!(c.complete(&fourth, &BatchTally::default()).await.unwrap());
    assert_eq!(
        c.committed_parts("J1").await.unwrap(),
        vec![CommittedPart {
            batch: 1,
            token: 4,
            failed: true
        }]
    );
    let status = c.status("J1").await.unwrap();
    assert_eq!((status.batches.failed, status.batches.failing), (1, 0));
}

#[actix_rt::test]
async fn the_aggregator_lease_is_exclusive_and_fenced() {
    let (c, _) = coordinator("aggregator").await;
    c.submit(&spec("J1", 10), ids(10)).await.unwrap();
    assert!(c
        .acquire_aggregator("nope", "a", LONG_LEASE)
        .await
        .unwrap()
        .is_none());

    let a = c
        .acquire_aggregator("J1", "a", SHORT_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.token, 1);
    assert!(c
        .acquire_aggregator("J1", "b", LONG_LEASE)
        .await
        .unwrap()
        .is_none());
    assert!(c.renew_aggregator(&a, SHORT_LEASE).await.unwrap());
    assert!(c
        .record_output(&a, &output("Z9000_0001.ndjson", "a"))
        .await
        .unwrap());
    // A retry after a lost reply is recorded once; other content is refused.
    assert!(c
        .record_output(&a, &output("Z9000_0001.ndjson", "a"))
        .await
        .unwrap());
    let err = c
        .record_output(&a, &output("Z9000_0001.ndjson", "b"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Z9000_0001.ndjson")
            && err.to_string().contains("already recorded"),
        "{err}"
    );

    // a stalls past its lease; b takes over with a higher token.
    let start = Instant::now();
    let b = loop {
        if let Some(b) = c.acquire_aggregator("J1", "b", LONG_LEASE).await.unwrap() {
            break b;
        }
        assert!(
            start.elapsed() < TAKEOVER_DEADLINE,
            "a's lease never expired"
        );
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(b.token, 2);
    assert!(
        !c.renew_aggregator(&a, LONG_LEASE).await.unwrap(),
        "a is fenced"
    );
    assert!(
        !c.record_output(&a, &output("Z9000_0002.ndjson", "a"))
            .await
            .unwrap(),
        "a stale token records nothing"
    );
    assert!(c
        .record_output(&b, &output("Z9000_0002.ndjson", "c"))
        .await
        .unwrap());
    let names: Vec<_> = c
        .outputs("J1")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["Z9000_0001.ndjson", "Z9000_0002.ndjson"]);
    assert_eq!(
        c.outputs("J1").await.unwrap()[1],
        output("Z9000_0002.ndjson", "c")
    );

    // Only the holder finishes, and only a job whose batches are all done.
    assert!(!c.finish(&a, &JobEnd::Completed).await.unwrap(), "fenced");
    let err = c.finish(&b, &JobEnd::Completed).await.unwrap_err();
    assert!(err.to_string().contains("1 batches are not done"), "{err}");
    let claim = c.claim("w", LONG_LEASE).await.unwrap().unwrap();
    assert!(c.complete(&claim, &BatchTally::default()).await.unwrap());
    assert!(c.finish(&b, &JobEnd::Completed).await.unwrap());
    assert!(!c.finish(&b, &JobEnd::Completed).await.unwrap(), "once");
    assert_eq!(c.status("J1").await.unwrap().state, JobState::Completed);
}

#[actix_rt::test]
async fn a_failed_job_keeps_its_reason_and_cancels_its_batches() {
    let (c, _) = coordinator("failed_job").await;
    c.submit(&spec("J1", 1), ids(3)).await.unwrap();
    let lease = c
        .acquire_aggregator("J1", "a", LONG_LEASE)
        .await
        .unwrap()
        .unwrap();
    let reason = "failure threshold exceeded".to_owned();
    assert!(c
        .finish(
            &lease,
            &JobEnd::Failed {
                reason: reason.clone()
            }
        )
        .await
        .unwrap());
    let status = c.status("J1").await.unwrap();
    assert_eq!(status.state, JobState::Failed);
    assert_eq!(status.failure_reason, Some(reason));
    assert_eq!(status.batches.cancelled, 3);
    assert!(c.claim("w", LONG_LEASE).await.unwrap().is_none());
}

#[actix_rt::test]
async fn the_same_job_twice_is_refused_unless_resumed() {
    let (c, _) = coordinator("twice").await;
    let first = spec("J1", 10);
    c.submit(&first, ids(25)).await.unwrap();

    let err = c.submit(&first, ids(25)).await.unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "submit job J1: already submitted (it is running); submit with resume to continue it"
    );

    let resumed = c.submit_or_resume(&first, ids(25)).await.unwrap();
    assert!(matches!(resumed, Submitted::Resumed(_)), "{resumed:?}");
    assert_eq!(
        resumed.record().batches.pending,
        3,
        "batches left as they were"
    );

    let mut other = first.clone();
    other.contract = "Z9001".into();
    let err = c.submit_or_resume(&other, ids(25)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "resume job J1: it was submitted with contract Z9000, not Z9001"
    );
    let mut other = first.clone();
    other.options.max_bytes = 1;
    let err = c.submit_or_resume(&other, ids(25)).await.unwrap_err();
    assert!(err.to_string().contains("options"), "{err}");

    // Two submitters racing: one creates it, the other is refused.
    let racing = spec("J2", 3);
    let (x, y) = futures::join!(c.submit(&racing, ids(30)), c.submit(&racing, ids(30)));
    assert_eq!(u8::from(x.is_ok()) + u8::from(y.is_ok()), 1, "{x:?} {y:?}");
    assert_eq!(c.status("J2").await.unwrap().batches.total(), 10);
    let created = c.submit_or_resume(&spec("J3", 3), ids(3)).await.unwrap();
    assert!(matches!(created, Submitted::Created(_)));
}

#[actix_rt::test]
async fn bad_input_is_refused_naming_it() {
    let (c, conninfo) = coordinator("bad_input").await;
    fn config_field(err: Error) -> &'static str {
        match err {
            Error::Config { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }
    for (job_id, contract, field) in [
        ("", "Z9000", "job_id"),
        ("../x", "Z9000", "job_id"),
        (".hidden", "Z9000", "job_id"),
        ("J1", "../x", "contract"),
        ("J1", "a/b", "contract"),
    ] {
        let err = c
            .submit(&JobSpec::new(job_id, contract), ids(1))
            .await
            .unwrap_err();
        assert_eq!(config_field(err), field, "{job_id:?} {contract:?}");
    }
    let mut s = spec("J1", 0);
    assert_eq!(
        config_field(c.submit(&s, ids(1)).await.unwrap_err()),
        "batch_size"
    );
    s.batch_size = 1;
    s.max_attempts = 0;
    assert_eq!(
        config_field(c.submit(&s, ids(1)).await.unwrap_err()),
        "max_attempts"
    );
    s.max_attempts = 1;
    s.options.max_failure_rate = 1.5;
    assert_eq!(
        config_field(c.submit(&s, ids(1)).await.unwrap_err()),
        "max_failure_rate"
    );
    s.options.max_failure_rate = 0.1;
    let err = c
        .submit(&s, vec!["-1".to_owned(), String::new()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("beneficiary 2 of job J1"), "{err}");
    let err = c.status("J1").await.unwrap_err();
    assert!(
        err.to_string().contains("no such job"),
        "nothing was left: {err}"
    );

    assert_eq!(
        config_field(c.claim("", LONG_LEASE).await.unwrap_err()),
        "worker"
    );
    assert_eq!(
        config_field(c.claim("w", Duration::ZERO).await.unwrap_err()),
        "lease"
    );
    assert_eq!(
        config_field(
            c.acquire_aggregator("J1", "w", Duration::from_secs(1 << 20))
                .await
                .unwrap_err()
        ),
        "lease"
    );

    // Connection strings: one that does not parse, one that cannot connect,
    // each named (never with its password).
    let err = PgCoordinator::connect("host=127.0.0.1 port=notaport password=s3cret")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid config: db: cannot parse connection string"),
        "{text}"
    );
    assert!(
        text.contains("port=notaport") && !text.contains("s3cret"),
        "{text}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = PgCoordinator::connect(&format!(
        "postgresql://postgres:s3cret@127.0.0.1:{port}/claims?connect_timeout=5"
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Database { .. }), "{err:?}");
    assert!(
        text.starts_with(&format!(
            "connect to host=127.0.0.1 port={port} user=postgres dbname=claims: "
        )),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let err = PgCoordinator::connect(&pg::with_dbname(&conninfo, "ca_no_such_database"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("dbname=ca_no_such_database") && text.contains("does not exist"),
        "{text}"
    );
}
