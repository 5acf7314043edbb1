//! What the benches share: parts made of real synthetic batches, the `cat`-like
//! baseline copy, and resampled part sizes.
#![allow(dead_code)] // each bench uses its own share of these

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use claims_aggregator::{synthetic, SyntheticSource};

/// Buffers of the baseline copy: what coreutils `cat` uses.
pub const COPY_BUFFER: usize = 128 * 1024;
/// Beneficiaries per part, as the default batch size.
pub const BATCH: u64 = 10;

/// The NDJSON of batch `batch` (beneficiaries `batch × BATCH ..`).
pub fn batch_body(source: &SyntheticSource, batch: u64) -> Vec<u8> {
    let mut body = Vec::new();
    for i in batch * BATCH..(batch + 1) * BATCH {
        for eob in source
            .generate(&synthetic::beneficiary_id(i))
            .expect("no failures configured")
        {
            body.extend_from_slice(eob.as_str().as_bytes());
            body.push(b'\n');
        }
    }
    body
}

/// The baseline: bytes through user space with a `BufReader` per part and one
/// `BufWriter`, as `cat parts > out` does.
pub fn buffered_copy(parts: &[PathBuf], out: &File) -> io::Result<u64> {
    let mut writer = BufWriter::with_capacity(COPY_BUFFER, out);
    let mut total = 0;
    for part in parts {
        let mut reader = BufReader::with_capacity(COPY_BUFFER, File::open(part)?);
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            writer.write_all(chunk)?;
            let n = chunk.len();
            reader.consume(n);
            total += n as u64;
        }
    }
    writer.flush()?;
    Ok(total)
}

/// `n` sizes drawn from `base` (xorshift, fixed seed), with a little jitter so
/// that equal sizes do not make the search artificially easy.
pub fn resample(base: &[u64], n: usize) -> Vec<u64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            base[(state % base.len() as u64) as usize] + (i as u64 % 97)
        })
        .collect()
}
