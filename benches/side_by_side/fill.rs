//! Target 6: the fill of a job's data outputs against AB2D's greedy selection.

use claims_aggregator::internals::select::greedy_select;
use claims_aggregator::{FileKind, MIB};

use crate::jobs::Pairs;
use crate::{Settings, Table};

/// Target 6: the fill of the job's data outputs, against AB2D's greedy
/// selection replayed on the parts of the same job.
pub fn report_fill(settings: &Settings, pairs: &Pairs, table: &mut Table) {
    eprintln!("6. output fill");
    let max_bytes = settings.job_max_mb * MIB;
    let mut fills = Vec::new();
    for run in &pairs.aggregating {
        let mut data: Vec<u64> = run
            .report
            .outputs_of(FileKind::Data)
            .map(|o| o.bytes)
            .collect();
        data.pop(); // the last output holds what is left
        fills.extend(data.iter().map(|&b| b as f64 / max_bytes as f64));
    }
    if fills.is_empty() {
        eprintln!("   the job made a single data output: nothing to judge");
        return;
    }
    let sizes = &pairs.parts_only[0].part_sizes;
    let largest = sizes.iter().copied().max().unwrap_or(0) as f64 / max_bytes as f64;
    let greedy = simulated_fills(sizes, max_bytes, 2 * max_bytes, greedy_select);
    let mean = fills.iter().sum::<f64>() / fills.len() as f64;
    let min = fills.iter().copied().fold(f64::INFINITY, f64::min);
    let greedy_mean = greedy.iter().sum::<f64>() / greedy.len().max(1) as f64;
    let greedy_min = greedy.iter().copied().fold(f64::INFINITY, f64::min);
    table.add(
        "6",
        format!(
            "data output fill, all but the last ({} outputs; parts ≤ {:.1}% of max_bytes)",
            fills.len(),
            largest * 100.0
        ),
        format!("mean {:.2}%, min {:.2}%", mean * 100.0, min * 100.0),
        format!(
            "mean {:.2}%, min {:.2}% (AB2D greedy, replayed)",
            greedy_mean * 100.0,
            greedy_min * 100.0
        ),
        format!("{:.3}×", mean / greedy_mean),
        "every one ≥ 95%",
        Some(min >= 0.95),
    );
}

/// AB2D's aggregation replayed over part `sizes` arriving in order: an output
/// (chosen by `choose`) whenever more than `trigger` bytes wait, what is left
/// packed the same way at the end. Returns the fill of every output but the
/// last.
fn simulated_fills(
    sizes: &[u64],
    max_bytes: u64,
    trigger: u64,
    choose: fn(&[u64], u64) -> Vec<u32>,
) -> Vec<f64> {
    let mut waiting: Vec<u64> = Vec::new();
    let mut waiting_bytes = 0;
    let mut outputs = Vec::new();
    let take = |waiting: &mut Vec<u64>, mut picked: Vec<u32>| {
        picked.sort_unstable_by(|a, b| b.cmp(a));
        picked
            .into_iter()
            .map(|i| waiting.swap_remove(i as usize))
            .sum::<u64>()
    };
    for &size in sizes {
        waiting.push(size);
        waiting_bytes += size;
        while waiting_bytes > trigger {
            let picked = choose(&waiting, max_bytes);
            let sum = take(&mut waiting, picked);
            waiting_bytes -= sum;
            outputs.push(sum);
        }
    }
    while !waiting.is_empty() {
        let picked = choose(&waiting, max_bytes);
        outputs.push(take(&mut waiting, picked));
    }
    outputs.retain(|&b| b > 0);
    outputs.pop();
    outputs
        .into_iter()
        .map(|b| b as f64 / max_bytes as f64)
        .collect()
}
