//! Target 2: the whole job against the same job parts-only, without and with source latency.

use std::time::Duration;

use crate::jobs::{cores, median_of, wall_ms, Pairs};
use crate::scratch::Scratch;
use crate::{Settings, Table};

/// Latency of the synthetic source in the "CPU to spare" job comparison.
const LATENCY: Duration = Duration::from_millis(5);

/// Target 2: aggregating against parts-only, then the same with CPU to spare.
pub fn report_hidden(settings: &Settings, scratch: &Scratch, pairs: &Pairs, table: &mut Table) {
    let (n, max_mb) = (settings.job_beneficiaries, settings.job_max_mb);
    let (full, base) = (&pairs.aggregating, &pairs.parts_only);
    let (full_ms, base_ms) = (median_of(full, wall_ms), median_of(base, wall_ms));
    table.add(
        "2",
        format!(
            "job wall time, {n} beneficiaries ({:.0} MB), --max-mb {max_mb}",
            full[0].report.progress.bytes_written as f64 / 1e6
        ),
        format!("{full_ms:.0} ms"),
        format!("{base_ms:.0} ms (parts-only)"),
        format!("{:.2}×", full_ms / base_ms),
        "≤ 1.10×",
        Some(full_ms <= 1.10 * base_ms),
    );
    let fetch = median_of(full, |r| r.report.timings_ms.fetch as f64);
    let finalize = median_of(full, |r| r.report.timings_ms.finalize as f64);
    let base_fetch = median_of(base, |r| r.report.timings_ms.fetch as f64);
    table.add(
        "2",
        "of which: fetch phase; finalize (in-job, StreamingClosed → reply)",
        format!("{fetch:.0} ms; {finalize:.0} ms"),
        format!("{base_fetch:.0} ms; —"),
        format!("{:.2}×", fetch / base_fetch),
        "",
        None,
    );
    let (cpu, base_cpu) = (median_of(full, |r| r.cpu), median_of(base, |r| r.cpu));
    table.add(
        "2",
        "CPU time, user + system (cores busy)",
        format!("{cpu:.2} s ({:.1})", cpu / (full_ms / 1e3)),
        format!("{base_cpu:.2} s ({:.1})", base_cpu / (base_ms / 1e3)),
        format!("{:.2}×", cpu / base_cpu),
        format!("{} cores", cores()),
        None,
    );
    // The least aggregating could take: the parts-only job's CPU plus reading
    // back and hashing its parts, spread over every core never idle.
    let read_back = median_of(base, |r| r.read_back_cpu);
    let floor_ms = base_ms.max((base_cpu + read_back) / cores() as f64 * 1e3);
    table.add(
        "2",
        format!(
            "the least possible: parts-only CPU + reading back and hashing every part ({read_back:.2} s), on {} cores never idle",
            cores()
        ),
        format!("{floor_ms:.0} ms"),
        format!("{base_ms:.0} ms (parts-only)"),
        format!("{:.2}×", floor_ms / base_ms),
        "",
        None,
    );
    // The same with CPU to spare: a source that answers after LATENCY, as a
    // real server does.
    let n = settings.latency_beneficiaries;
    let slow = Pairs::run(scratch, settings.reps, (n, max_mb), None, LATENCY);
    let (full_ms, base_ms) = (
        median_of(&slow.aggregating, wall_ms),
        median_of(&slow.parts_only, wall_ms),
    );
    table.add(
        "2",
        format!(
            "the same, {n} beneficiaries, source latency {} ms (CPU to spare)",
            LATENCY.as_millis()
        ),
        format!("{full_ms:.0} ms"),
        format!("{base_ms:.0} ms (parts-only)"),
        format!("{:.2}×", full_ms / base_ms),
        "≤ 1.10×",
        None,
    );
}
