//! Target 1: `combine_parts` against a `BufReader`/`BufWriter` copy of the same parts.

use std::fs::{self, File};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use claims_aggregator::internals::combine::combine_parts;

use crate::fixtures::Fixtures;
use crate::scratch::Scratch;
use crate::support::buffered_copy;
use crate::{mb_per_s, median, Settings, Table};

pub fn compare_combine(settings: &Settings, scratch: &Scratch, fx: &Fixtures, table: &mut Table) {
    eprintln!("1. combine throughput");
    for (label, parts, bytes) in [
        ("regular parts", &fx.regular, fx.regular_bytes),
        ("small parts", &fx.small, fx.small_bytes),
    ] {
        let dir = scratch.fresh("combine");
        let out_path = dir.join("out.ndjson");
        // Warm the page cache, and check that both sides write the same bytes.
        let warm = File::create(&out_path).unwrap();
        assert_eq!(buffered_copy(parts, &warm).unwrap(), bytes);
        drop(warm);
        fs::remove_file(&out_path).unwrap();

        let (mut ours, mut base) = (Vec::new(), Vec::new());
        let cancel = AtomicBool::new(false);
        for rep in 0..settings.reps * 2 {
            // ABBA order: drift of the machine hits both sides alike.
            let ours_first = rep % 4 == 0 || rep % 4 == 3;
            for side in [ours_first, !ours_first] {
                let mut out = File::create(&out_path).unwrap();
                let started = Instant::now();
                let written = if side {
                    combine_parts(parts, &mut out, &out_path, &cancel).unwrap()
                } else {
                    buffered_copy(parts, &out).unwrap()
                };
                let seconds = started.elapsed().as_secs_f64();
                assert_eq!(written, bytes);
                drop(out);
                fs::remove_file(&out_path).unwrap();
                if side {
                    ours.push(mb_per_s(bytes, seconds));
                } else {
                    base.push(mb_per_s(bytes, seconds));
                }
            }
        }
        fs::remove_dir_all(&dir).unwrap();
        let (ours, base) = (median(ours), median(base));
        let size = bytes as f64 / parts.len() as f64 / 1e3;
        table.add(
            "1",
            format!(
                "combine MB/s, {} {label} of {size:.1} KB, page cache warm",
                parts.len()
            ),
            format!("{ours:.0} MB/s"),
            format!("{base:.0} MB/s (BufReader/BufWriter copy)"),
            format!("{:.2}×", ours / base),
            "≥ 1.00×",
            Some(ours >= base),
        );
    }
}
