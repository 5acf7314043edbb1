//! The embedded synthetic claims source.
//!
//! Benchmarks, tests and demos need a claims source that needs no network, no
//! credentials and no test data on disk, yet produces what the real BFD server
//! produces: FHIR R4 `ExplanationOfBenefit` resources of every claim type, of
//! realistic shape and size (a few KB to a few tens of KB each, like the BFD v2
//! samples), some beneficiaries with no claims, some whose fetch fails.
//!
//! Everything is a pure function of `(seed, beneficiary id)`. The SHA-256 of the
//! seed's little-endian bytes followed by the id's bytes decides whether the
//! fetch fails and seeds a ChaCha8 generator that draws the number of EOBs; EOB
//! number `i` draws its content from stream `i + 1` of that generator, so one
//! EOB's content does not depend on how many EOBs come before or after it. The
//! output of any job is therefore known in advance: a test or a resumed run can
//! call [`SyntheticSource::generate`] (or the cheaper
//! [`SyntheticSource::eob_ids`]) to learn exactly which records a beneficiary
//! contributes, whichever fetcher, arbiter or process fetched it, and in any order.
//!
//! [`SyntheticConfig::since`] leaves out the EOBs updated before an instant, as
//! BFD's `_lastUpdated=ge…` does, without touching the others: each EOB keeps
//! its stream, so the EOBs kept are byte for byte, ids included, those of the
//! unfiltered source. The dates are drawn right after the claim type, so an EOB
//! left out costs a few draws and is never serialised.
//!
//! # Layout
//!
//! - this file: the source and its settings; what a beneficiary gets and the
//!   draws that decide it;
//! - `eob.rs`, `lines.rs`: drawing one EOB, and its lines with their amounts;
//! - `claim_types.rs`, `vocabulary.rs`: the eight claim types, and the code
//!   systems and fixed values the EOBs are drawn from;
//! - `model.rs`: the serialisable shapes of an EOB; `json.rs`: writing them
//!   (fixed text serialised once, the EOB's own object by hand);
//! - `dates.rs`, `short.rs`, `ids.rs`: dates and instants, inline text, EOB ids;
//! - `tests.rs`: what the output promises (valid, deterministic, sized like BFD's).
//!
//! # EOB ids
//!
//! An EOB id is `{type}-{stem}-{n}`: the lower-case claim type (`carrier`,
//! `pde`, …), the beneficiary stem and the EOB's index within the beneficiary,
//! for example `carrier--19990000000042-3`. For beneficiary ids made of at most
//! 40 ASCII digits with an optional leading `-` (the shape of BFD's ids and of
//! [`beneficiary_id`]), the stem is the beneficiary id itself, which makes ids
//! unique by construction. Any other beneficiary id is replaced by `x` followed by
//! 16 hex digits of its SHA-256: such stems never collide with digit stems, and
//! two of them collide with probability 2⁻⁶⁴ per pair. Either way ids satisfy
//! FHIR's `[A-Za-z0-9\-\.]{1,64}`.

use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::{ClaimsSource, Resource, SourceError};
use claim_types::ClaimType;
use eob::{full_eob, small_eob, Dates};
use ids::{eob_id, id_stem};
use json::to_resource;

/// `https://bluebutton.cms.gov/resources/variables/<name>`: BFD names its code
/// systems and extensions after the CCW variable they carry. Defined before the
/// submodules so that they see it.
macro_rules! bb_var {
    ($name:literal) => {
        concat!("https://bluebutton.cms.gov/resources/variables/", $name)
    };
}

mod claim_types;
mod dates;
mod eob;
mod fixed;
mod ids;
mod json;
mod lines;
mod model;
mod short;
mod vocabulary;

/// [`beneficiary_id`] adds the index to this number (BFD's synthetic
/// beneficiaries are negative numbers of this magnitude).
const BENEFICIARY_ID_BASE: u64 = 19_990_000_000_000;

/// Upper bound on EOBs per beneficiary, whatever the configured mean, so that an
/// absurd mean cannot make one beneficiary exhaust memory.
const MAX_EOBS_PER_BENEFICIARY: u32 = 100_000;

/// Settings of the synthetic source.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    /// Seed of every random choice; the same seed and beneficiary id always give
    /// byte-identical resources. Default `0`.
    pub seed: u64,
    /// Mean number of EOBs per beneficiary. Each beneficiary's count is drawn
    /// uniformly from `0..=round(2 * mean)`, so some beneficiaries have none.
    /// Default `4.0`.
    pub eobs_per_beneficiary: f64,
    /// Latency added to every [`ClaimsSource::fetch`], standing in for the round
    /// trip to BFD; zero means no sleep at all. Default zero.
    pub latency: Duration,
    /// Fraction of beneficiaries whose fetch fails (decided per beneficiary, so a
    /// failing beneficiary fails on every attempt). Default `0.0`.
    pub failure_rate: f64,
    /// Give every beneficiary exactly one small (about 750 bytes) but valid EOB,
    /// for memory tests with millions of beneficiaries. Default `false`.
    pub small_eobs: bool,
    /// Only the EOBs whose `meta.lastUpdated` is at or after this instant, as
    /// Bulk Data's `_since` and BFD's `_lastUpdated=ge…` ask (read one with
    /// [`parse_since`](crate::source::parse_since)). The EOBs kept are byte for
    /// byte, id included, those generated without it. Default `None`: every EOB.
    pub since: Option<SystemTime>,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 0,
            eobs_per_beneficiary: 4.0,
            latency: Duration::ZERO,
            failure_rate: 0.0,
            small_eobs: false,
            since: None,
        }
    }
}

/// A deterministic, in-memory [`ClaimsSource`] of realistic FHIR R4
/// ExplanationOfBenefit resources (see the module documentation).
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    config: SyntheticConfig,
    /// `config.since` in whole milliseconds since 1970, rounded up: an EOB's
    /// `lastUpdated` is whole milliseconds, so it is at or after `since` exactly
    /// when it is at or after this.
    since_ms: Option<i64>,
}

/// The id of the `index`-th synthetic beneficiary, shaped like BFD's synthetic
/// ids: `-19990000000000`, `-19990000000001`, …
pub fn beneficiary_id(index: u64) -> String {
    format!("-{}", BENEFICIARY_ID_BASE + index)
}

impl SyntheticSource {
    /// A source with the given settings.
    pub fn new(config: SyntheticConfig) -> Self {
        let since_ms = config.since.map(millis_rounded_up);
        SyntheticSource { config, since_ms }
    }

    /// The settings of this source.
    pub fn config(&self) -> &SyntheticConfig {
        &self.config
    }

    /// Pure and synchronous: exactly what [`ClaimsSource::fetch`] gives for
    /// `beneficiary` (without the latency).
    pub fn generate(&self, beneficiary: &str) -> Result<Vec<Resource>, SourceError> {
        let key = self.key(beneficiary);
        if self.fails_key(&key) {
            return Err(failure(beneficiary));
        }
        let root = ChaCha8Rng::from_seed(key);
        let stem = id_stem(beneficiary);
        (0..self.count(&root))
            .filter_map(|index| {
                let mut rng = eob_rng(&root, index);
                let claim = ClaimType::draw(&mut rng);
                // The dates are drawn first, so an EOB left out costs no more.
                let dates = Dates::draw(claim, &mut rng);
                if !self.wanted(&dates) {
                    return None;
                }
                let id = eob_id(claim, &stem, index);
                let eob = if self.config.small_eobs {
                    small_eob(claim, &id, beneficiary, dates, &mut rng)
                } else {
                    full_eob(claim, &id, beneficiary, dates, &mut rng)
                };
                // Cannot fail: every field serialises to a string, number or bool.
                Some(to_resource(&eob).map_err(|error| {
                    let message = format!(
                        "synthetic source: EOB {id} of beneficiary {beneficiary} \
                         did not serialise: {error}"
                    );
                    SourceError::new("exception", message)
                }))
            })
            .collect()
    }

    /// The ids of the EOBs [`generate`](Self::generate) yields for
    /// `beneficiary`, in the same order (empty when the beneficiary fails);
    /// much cheaper than generating them.
    pub fn eob_ids(&self, beneficiary: &str) -> Vec<String> {
        let key = self.key(beneficiary);
        if self.fails_key(&key) {
            return Vec::new();
        }
        let root = ChaCha8Rng::from_seed(key);
        let stem = id_stem(beneficiary);
        (0..self.count(&root))
            .filter_map(|index| {
                let mut rng = eob_rng(&root, index);
                let claim = ClaimType::draw(&mut rng);
                if self.since_ms.is_some() && !self.wanted(&Dates::draw(claim, &mut rng)) {
                    return None;
                }
                Some(eob_id(claim, &stem, index))
            })
            .collect()
    }

    /// Whether an EOB of these dates is kept: `since` is not given, or its
    /// `lastUpdated` is not earlier.
    fn wanted(&self, dates: &Dates) -> bool {
        self.since_ms
            .is_none_or(|since| dates.updated.epoch_millis() >= since)
    }

    /// Whether the fetch of `beneficiary` fails.
    pub fn fails(&self, beneficiary: &str) -> bool {
        self.fails_key(&self.key(beneficiary))
    }

    /// SHA-256 of the seed's little-endian bytes followed by the id's bytes.
    fn key(&self, beneficiary: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.config.seed.to_le_bytes())
            .chain_update(beneficiary.as_bytes())
            .finalize()
            .into()
    }

    /// The failure draw is a fraction of one taken from the key's first eight
    /// bytes, not from the generator, so that changing the failure rate changes
    /// nothing else about a beneficiary.
    fn fails_key(&self, key: &[u8; 32]) -> bool {
        let mut head = [0u8; 8];
        head.copy_from_slice(&key[..8]);
        let draw = (u64::from_le_bytes(head) >> 11) as f64 / (1u64 << 53) as f64;
        draw < self.config.failure_rate
    }

    /// Number of EOBs, drawn from stream 0 of the beneficiary's generator.
    fn count(&self, root: &ChaCha8Rng) -> u32 {
        if self.config.small_eobs {
            return 1;
        }
        let mean = self.config.eobs_per_beneficiary;
        let max = if mean.is_finite() && mean > 0.0 {
            (2.0 * mean).round().min(MAX_EOBS_PER_BENEFICIARY as f64) as u32
        } else {
            0
        };
        root.clone().gen_range(0..=max)
    }
}

impl Default for SyntheticSource {
    /// A source with [`SyntheticConfig::default`] settings.
    fn default() -> Self {
        SyntheticSource::new(SyntheticConfig::default())
    }
}

impl ClaimsSource for SyntheticSource {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        Box::pin(async move {
            if !self.config.latency.is_zero() {
                actix_rt::time::sleep(self.config.latency).await;
            }
            self.generate(beneficiary)
        })
    }
}

fn failure(beneficiary: &str) -> SourceError {
    SourceError::new(
        "exception",
        format!("synthetic source: fetch of beneficiary {beneficiary} failed (injected failure)"),
    )
}

/// Milliseconds from 1970 to `at`, rounded up (towards the later instant);
/// saturated far outside the years any EOB names.
fn millis_rounded_up(at: SystemTime) -> i64 {
    let nanos = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    let millis = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    millis.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The generator of EOB number `index`: a fresh copy of the beneficiary's
/// generator on its own stream.
fn eob_rng(root: &ChaCha8Rng, index: u32) -> ChaCha8Rng {
    let mut rng = root.clone();
    rng.set_stream(u64::from(index) + 1);
    rng
}

#[cfg(test)]
mod tests;
