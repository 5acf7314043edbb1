//! Target 3: `StreamingClosed` to the count reply of a running aggregator, against the
//! same groups combined directly.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use actix::Actor;
use claims_aggregator::internals::combine::AggregationStep;
use claims_aggregator::internals::part_names::PartNames;
use claims_aggregator::internals::select::plan_all;
use claims_aggregator::{
    Aggregator, FileFinished, FileKind, JobConfig, JobLayout, StreamingClosed, MIB,
};

use crate::fixtures::Fixtures;
use crate::scratch::Scratch;
use crate::{median, ms, Settings, Table};

/// Largest overhead of finalizing over combining (target 3).
const FINALIZE_OVERHEAD_MS: f64 = 20.0;

pub fn compare_finalize(settings: &Settings, scratch: &Scratch, fx: &Fixtures, table: &mut Table) {
    let max_bytes = settings.job_max_mb * MIB;
    // What a job can leave at close: up to the trigger, 2 × max_bytes, of parts.
    let mut parts = Vec::new();
    let mut left = 0;
    for part in &fx.regular {
        let len = fs::metadata(part).unwrap().len();
        if left + len > 2 * max_bytes {
            break;
        }
        left += len;
        parts.push(part.clone());
    }
    eprintln!(
        "3. finalize: {} parts, {:.0} MB left at close, max_bytes {} MiB",
        parts.len(),
        left as f64 / 1e6,
        settings.job_max_mb
    );
    let (mut actor, mut direct) = (Vec::new(), Vec::new());
    for rep in 0..settings.reps * 2 {
        let actor_first = rep % 4 == 0 || rep % 4 == 3;
        for side in [actor_first, !actor_first] {
            let root = scratch.fresh("finalize");
            let config = JobConfig::builder(&root, "J", "Z9000")
                .max_bytes(max_bytes)
                .build()
                .unwrap();
            let layout = config.layout();
            fs::create_dir_all(layout.finished()).unwrap();
            if side {
                actor.push(ms(finalize_by_actor(&config, &parts)));
            } else {
                direct.push(ms(finalize_directly(&layout, &parts, max_bytes)));
            }
            fs::remove_dir_all(&root).unwrap();
        }
    }
    let (actor, direct) = (median(actor), median(direct));
    let overhead = actor - direct;
    table.add(
        "3",
        format!(
            "finalize: StreamingClosed → count reply, {:.0} MB in {} parts left",
            left as f64 / 1e6,
            parts.len()
        ),
        format!("{actor:.0} ms"),
        format!("{direct:.0} ms (plan_all + AggregationStep::run, no actor)"),
        format!("{overhead:+.1} ms"),
        format!("≤ +{FINALIZE_OVERHEAD_MS:.0} ms"),
        Some(overhead <= FINALIZE_OVERHEAD_MS),
    );
}

/// Links `parts` into `finished/`, announces them to a running aggregator, then
/// times `StreamingClosed` → its answer.
fn finalize_by_actor(config: &JobConfig, parts: &[PathBuf]) -> Duration {
    let layout = config.layout();
    let config = config.clone();
    let parts = parts.to_vec();
    actix::System::new().block_on(async move {
        let aggregator = Aggregator::new(&config).start();
        // Let its first scan (of an empty finished/) end before parts arrive.
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        // As fetchers do: `do_send` (a dropped `send` future cancels its
        // message); the last one awaited, answered after all the others.
        for (i, part) in parts.iter().enumerate() {
            let name = part.file_name().unwrap().to_str().unwrap();
            let batch = JobLayout::batch_of_part(name).expect("parts are named by batch");
            let path = layout.finished().join(name);
            fs::hard_link(part, &path).unwrap();
            let bytes = fs::metadata(&path).unwrap().len();
            let message = FileFinished {
                batch,
                kind: FileKind::Data,
                bytes,
            };
            if i + 1 < parts.len() {
                aggregator.do_send(message);
            } else {
                aggregator.send(message).await.unwrap();
            }
        }
        let started = Instant::now();
        let count = aggregator.send(StreamingClosed).await.unwrap().unwrap();
        let elapsed = started.elapsed();
        assert!(count > 0);
        elapsed
    })
}

/// The same work without the actor: plan, then each step, then `finished/` removed.
fn finalize_directly(layout: &JobLayout, parts: &[PathBuf], max_bytes: u64) -> Duration {
    let mut linked = Vec::new();
    let mut sizes = Vec::new();
    for part in parts {
        let path = layout.finished().join(part.file_name().unwrap());
        fs::hard_link(part, &path).unwrap();
        sizes.push(fs::metadata(&path).unwrap().len());
        linked.push(path);
    }
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    for (n, group) in plan_all(&sizes, max_bytes).into_iter().enumerate() {
        let step = AggregationStep {
            layout: layout.clone(),
            kind: FileKind::Data,
            number: Some(n as u32 + 1),
            parts: PartNames::from_names(
                group
                    .iter()
                    .map(|&i| linked[i as usize].file_name().unwrap().to_str().unwrap()),
            ),
            order: None,
            overlapping: false,
        };
        step.run(&cancel).unwrap();
    }
    fs::remove_dir(layout.finished()).unwrap();
    started.elapsed()
}
