//! Parts made of real synthetic EOBs, written once and shared by targets 1, 3 and 5.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use claims_aggregator::{FileKind, JobLayout, SyntheticConfig, SyntheticSource};

use crate::scratch::Scratch;
use crate::support::batch_body;
use crate::{Settings, SEED};

/// Parts made of real synthetic EOBs, as fetchers write them.
pub struct Fixtures {
    /// Regular parts: 10 beneficiaries of full EOBs each (about 440 KB).
    pub regular: Vec<PathBuf>,
    pub regular_bytes: u64,
    /// Small parts: 10 beneficiaries of one small EOB each (about 7.5 KB).
    pub small: Vec<PathBuf>,
    pub small_bytes: u64,
}

impl Fixtures {
    pub fn generate(scratch: &Scratch, settings: &Settings) -> Self {
        let started = Instant::now();
        let dir = scratch.fresh("fixtures");
        let regular_source = SyntheticSource::new(SyntheticConfig {
            seed: SEED,
            ..SyntheticConfig::default()
        });
        let small_source = SyntheticSource::new(SyntheticConfig {
            seed: SEED,
            small_eobs: true,
            ..SyntheticConfig::default()
        });
        let (mut regular, mut regular_bytes) = (Vec::new(), 0);
        let mut batch = 0;
        while regular_bytes < settings.combine_bytes {
            let body = batch_body(&regular_source, batch);
            regular_bytes += body.len() as u64;
            regular.push(write_part(&dir.join("regular"), batch, &body));
            batch += 1;
        }
        let (mut small, mut small_bytes) = (Vec::new(), 0);
        for batch in 0..settings.small_parts as u64 {
            let body = batch_body(&small_source, batch);
            small_bytes += body.len() as u64;
            small.push(write_part(&dir.join("small"), batch, &body));
        }
        eprintln!(
            "fixtures: {} regular parts ({:.0} MB), {} small parts ({:.0} MB) in {:.1} s",
            regular.len(),
            regular_bytes as f64 / 1e6,
            small.len(),
            small_bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        Fixtures {
            regular,
            regular_bytes,
            small,
            small_bytes,
        }
    }
}

fn write_part(dir: &Path, batch: u64, body: &[u8]) -> PathBuf {
    fs::create_dir_all(dir).expect("create the fixture directory");
    let path = dir.join(JobLayout::part_name(batch + 1, FileKind::Data));
    fs::write(&path, body).expect("write a fixture part");
    path
}
