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
//! Resources are serialised by serde_json from borrowed `#[derive(Serialize)]`
//! structs whose short random codes live inline on the stack, under one rule:
//! fixed text is not serialised again for every EOB. Everything fixed (the
//! code systems' concepts and codings, extensions, the insurer, profiles) is a
//! `Fixed` value in a `static` table, serialised once, on first use, into JSON
//! text that is written verbatim from then on; that is about two thirds of a
//! full EOB, which serde_json no longer walks nor scans for characters to
//! escape. The EOB's own object, whose keys are much of a small EOB, is
//! written by hand: its keys and constant values are literal text around its
//! serialised members. Dates are copied from a table made once. Each EOB is
//! written into a per-thread scratch buffer and copied out at its exact size.
//! The `synthetic` bench measures generation.
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

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{ClaimsSource, Resource, SourceError};

/// `https://bluebutton.cms.gov/resources/variables/<name>`: BFD names its code
/// systems and extensions after the CCW variable they carry.
macro_rules! bb_var {
    ($name:literal) => {
        concat!("https://bluebutton.cms.gov/resources/variables/", $name)
    };
}

/// [`beneficiary_id`] adds the index to this number (BFD's synthetic
/// beneficiaries are negative numbers of this magnitude).
const BENEFICIARY_ID_BASE: u64 = 19_990_000_000_000;

/// Upper bound on EOBs per beneficiary, whatever the configured mean, so that an
/// absurd mean cannot make one beneficiary exhaust memory.
const MAX_EOBS_PER_BENEFICIARY: u32 = 100_000;

/// Longest digit-shaped beneficiary id used verbatim in EOB ids; with the longest
/// type prefix and a ten-digit index the id stays within FHIR's 64 characters.
const MAX_DIGIT_STEM: usize = 40;

/// First possible day of a billable period (days since 1970-01-01).
const FIRST_DAY: i64 = days_from_civil(2015, 1, 1);

/// Last possible first day of a billable period: periods last at most 30 days,
/// so they all end in 2024 at the latest.
const LAST_START_DAY: i64 = days_from_civil(2024, 12, 1);

/// Last day an EOB can name: `lastUpdated` is at most 30 days after
/// `created`, at most 45 days after the end of a period of at most 30 days.
const LAST_DAY: i64 = LAST_START_DAY + 30 + 45 + 30;

/// `YYYY-MM-DD` of every day from [`FIRST_DAY`] to [`LAST_DAY`], one after
/// the other, made on first use: copying a date costs less than formatting it.
static DATES: LazyLock<String> = LazyLock::new(|| {
    (FIRST_DAY..=LAST_DAY)
        .flat_map(date_text)
        .map(char::from)
        .collect()
});

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
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 0,
            eobs_per_beneficiary: 4.0,
            latency: Duration::ZERO,
            failure_rate: 0.0,
            small_eobs: false,
        }
    }
}

/// A deterministic, in-memory [`ClaimsSource`] of realistic FHIR R4
/// ExplanationOfBenefit resources (see the module documentation).
#[derive(Debug, Clone)]
pub struct SyntheticSource {
    config: SyntheticConfig,
}

/// The id of the `index`-th synthetic beneficiary, shaped like BFD's synthetic
/// ids: `-19990000000000`, `-19990000000001`, …
pub fn beneficiary_id(index: u64) -> String {
    format!("-{}", BENEFICIARY_ID_BASE + index)
}

impl SyntheticSource {
    /// A source with the given settings.
    pub fn new(config: SyntheticConfig) -> Self {
        SyntheticSource { config }
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
            .map(|index| {
                let mut rng = eob_rng(&root, index);
                let claim = ClaimType::draw(&mut rng);
                let id = eob_id(claim, &stem, index);
                let eob = if self.config.small_eobs {
                    small_eob(claim, &id, beneficiary, &mut rng)
                } else {
                    full_eob(claim, &id, beneficiary, &mut rng)
                };
                // Cannot fail: every field serialises to a string, number or bool.
                to_resource(&eob).map_err(|error| {
                    let message = format!(
                        "synthetic source: EOB {id} of beneficiary {beneficiary} \
                         did not serialise: {error}"
                    );
                    SourceError::new("exception", message)
                })
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
            .map(|index| eob_id(ClaimType::draw(&mut eob_rng(&root, index)), &stem, index))
            .collect()
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

/// Serialises `eob` into this thread's scratch buffer, which keeps its
/// capacity from one EOB to the next, and copies the text out: one allocation
/// of the exact size instead of a string grown by doubling.
fn to_resource(eob: &Eob<'_>) -> Result<Resource, serde_json::Error> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        eob.write_json(scratch)?;
        let text = std::str::from_utf8(scratch).expect("JSON text is UTF-8");
        Ok(Resource(text.to_owned()))
    })
}

fn failure(beneficiary: &str) -> SourceError {
    SourceError::new(
        "exception",
        format!("synthetic source: fetch of beneficiary {beneficiary} failed (injected failure)"),
    )
}

/// The generator of EOB number `index`: a fresh copy of the beneficiary's
/// generator on its own stream.
fn eob_rng(root: &ChaCha8Rng, index: u32) -> ChaCha8Rng {
    let mut rng = root.clone();
    rng.set_stream(u64::from(index) + 1);
    rng
}

/// The beneficiary part of EOB ids (see the module documentation).
fn id_stem(beneficiary: &str) -> Cow<'_, str> {
    let digits = beneficiary.strip_prefix('-').unwrap_or(beneficiary);
    if !digits.is_empty()
        && beneficiary.len() <= MAX_DIGIT_STEM
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Cow::Borrowed(beneficiary)
    } else {
        let hash = Sha256::digest(beneficiary.as_bytes());
        Cow::Owned(format!("x{}", hex::encode(&hash[..8])))
    }
}

/// `{type}-{stem}-{index}`, joined without `format!`, whose machinery costs
/// more than the joining itself.
fn eob_id(claim: &ClaimType, stem: &str, index: u32) -> String {
    let index = Short::decimal(index);
    let parts = [claim.prefix, "-", stem, "-", index.as_str()];
    let mut id = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    parts.iter().for_each(|part| id.push_str(part));
    id
}

// ---------------------------------------------------------------------------
// Building one EOB
// ---------------------------------------------------------------------------

/// A minimal but valid EOB: every element FHIR R4 requires, plus
/// `meta.lastUpdated`, the billable period and the payment.
fn small_eob<'a>(
    claim: &'static ClaimType,
    id: &'a str,
    beneficiary: &'a str,
    rng: &mut ChaCha8Rng,
) -> Eob<'a> {
    let start = rng.gen_range(FIRST_DAY..=LAST_START_DAY);
    let end = start + rng.gen_range(0..=claim.max_span_days);
    let created = Stamp::new(end + rng.gen_range(1..=45), rng.gen_range(0..86_400), None);
    let updated = Stamp::new(
        created.day + rng.gen_range(0..=30),
        rng.gen_range(0..86_400),
        Some(rng.gen_range(0..1000)),
    );
    Eob {
        id,
        meta: Meta {
            last_updated: updated,
            profile: None,
        },
        contained: None,
        identifier: None,
        type_: &claim.small_type,
        patient: Reference::to("Patient/", beneficiary),
        billable_period: Period::days(start, end),
        created,
        insurer: &INSURER,
        provider: Provider::Npi(NpiRef::new(None, None, npi(rng))),
        facility: None,
        care_team: Vec::new(),
        supporting_info: Vec::new(),
        diagnosis: Vec::new(),
        procedure: Vec::new(),
        insurance: [Insurance::focal(claim.coverage, beneficiary)],
        item: Vec::new(),
        total: None,
        payment: Payment {
            amount: Money::usd(rng.gen_range(100..=50_000)),
        },
    }
}

/// A full EOB shaped like BFD's v2 samples of its claim type.
fn full_eob<'a>(
    claim: &'static ClaimType,
    id: &'a str,
    beneficiary: &'a str,
    rng: &mut ChaCha8Rng,
) -> Eob<'a> {
    let start = rng.gen_range(FIRST_DAY..=LAST_START_DAY);
    let end = start + rng.gen_range(0..=claim.max_span_days);
    let created = Stamp::new(end + rng.gen_range(1..=45), rng.gen_range(0..86_400), None);
    let updated = Stamp::new(
        created.day + rng.gen_range(0..=30),
        rng.gen_range(0..86_400),
        Some(rng.gen_range(0..1000)),
    );

    let institutional = claim.family == Family::Institutional;
    let contained = institutional.then(|| {
        [Organization {
            resource_type: "Organization",
            id: "provider-org",
            meta: &ORGANIZATION_META,
            identifier: [
                OrgIdentifier {
                    type_: &ID_TYPE_PRN,
                    system: None,
                    value: Short::digits(rng, 6),
                },
                OrgIdentifier {
                    type_: &ID_TYPE_NPI,
                    system: Some(NPI),
                    value: npi(rng),
                },
            ],
            active: true,
        }]
    });
    let provider = if institutional {
        Provider::Contained(LocalRef {
            reference: "#provider-org",
        })
    } else {
        Provider::Npi(NpiRef::new(Some(&ID_TYPE_NPI), Some(NPI), npi(rng)))
    };

    let mut group = Short::new();
    let digits = rng.gen_range(3..=10);
    group.push_digits(rng, digits);
    let identifier = Some([
        Identifier {
            type_: Some(&ID_TYPE_UNIQUE_CLAIM),
            system: claim.claim_id_system,
            value: IdValue::Borrowed(&id[claim.prefix.len() + 1..]),
        },
        Identifier {
            type_: Some(&ID_TYPE_UNIQUE_CLAIM),
            system: CLAIM_GROUP,
            value: IdValue::Short(group),
        },
    ]);

    let care_team = care_team(claim, rng);
    let supporting_info = supporting_info(claim, start, end, rng);
    let diagnosis = diagnoses(claim, rng);
    let procedure = procedures(claim, start, end, rng);

    let mut submitted = 0;
    let mut paid = 0;
    let items = claim.items(rng);
    let item = (1..=items)
        .map(|sequence| {
            let line = Item::draw(
                claim,
                sequence,
                start,
                end,
                care_team.len(),
                diagnosis.len(),
                rng,
            );
            submitted += line.submitted;
            paid += line.paid;
            line.item
        })
        .collect();

    Eob {
        id,
        meta: Meta {
            last_updated: updated,
            profile: Some(&claim.profile),
        },
        contained,
        identifier,
        type_: &claim.full_type,
        patient: Reference::to("Patient/", beneficiary),
        billable_period: Period::days(start, end),
        created,
        insurer: &INSURER,
        provider,
        facility: claim.facility,
        care_team,
        supporting_info,
        diagnosis,
        procedure,
        insurance: [Insurance::focal(claim.coverage, beneficiary)],
        item,
        total: Some([
            Total {
                category: &TOTAL_SUBMITTED,
                amount: Money::usd(submitted),
            },
            Total {
                category: &TOTAL_BENEFIT,
                amount: Money::usd(paid),
            },
        ]),
        payment: Payment {
            amount: Money::usd(paid),
        },
    }
}

fn npi(rng: &mut ChaCha8Rng) -> Short {
    let mut value = Short::new();
    value.push(if rng.gen_bool(0.5) { b'1' } else { b'2' });
    value.push_digits(rng, 9);
    value
}

fn care_team(claim: &ClaimType, rng: &mut ChaCha8Rng) -> Vec<CareTeam> {
    let members = rng.gen_range(1..=claim.roles.len());
    claim.roles[..members]
        .iter()
        .zip(1..)
        .map(|(role, sequence)| CareTeam {
            sequence,
            provider: NpiRef::new(Some(&ID_TYPE_NPI), Some(NPI), npi(rng)),
            responsible: (sequence == 1).then_some(true),
            role,
        })
        .collect()
}

fn supporting_info(
    claim: &ClaimType,
    start: i64,
    end: i64,
    rng: &mut ChaCha8Rng,
) -> Vec<SupportingInfo> {
    let kinds = rng.gen_range(1..=claim.info.len());
    claim.info[..kinds]
        .iter()
        .zip(1..)
        .map(|(kind, sequence)| {
            let (code, timing_date) = if kind.codes.is_empty() {
                (None, Some(Date(end + rng.gen_range(1..=14))))
            } else {
                (Some(pick(kind.codes, rng)), None)
            };
            SupportingInfo {
                sequence,
                category: &kind.category,
                code,
                timing_date,
                timing_period: kind.admission.then(|| Period::days(start, end)),
            }
        })
        .collect()
}

fn diagnoses(claim: &ClaimType, rng: &mut ChaCha8Rng) -> Vec<Diagnosis> {
    if claim.family == Family::Pharmacy {
        return Vec::new();
    }
    // An inpatient claim has an admitting and a principal diagnosis.
    let first = if claim.kind == Kind::Inpatient { 2 } else { 1 };
    let count = rng.gen_range(first..=6);
    (1..=count)
        .map(|sequence| {
            let kind = match (sequence, claim.kind) {
                (1, Kind::Inpatient) => &DIAG_ADMITTING,
                (1, _) | (2, Kind::Inpatient) => &DIAG_PRINCIPAL,
                _ if rng.gen_bool(0.2) => &DIAG_OTHER,
                _ => &DIAG_SECONDARY,
            };
            let mut code = Short::new();
            code.push(b"ABCDEFGHIJKLMNOPQRSTVWXYZ"[rng.gen_range(0..25)]);
            let digits = rng.gen_range(2..=6);
            code.push_digits(rng, digits);
            Diagnosis {
                sequence,
                diagnosis_codeable_concept: Concept::one(Coding::new(
                    ICD10,
                    Text::Short(code),
                    None,
                )),
                type_: [kind],
            }
        })
        .collect()
}

fn procedures(claim: &ClaimType, start: i64, end: i64, rng: &mut ChaCha8Rng) -> Vec<Procedure> {
    if !matches!(claim.kind, Kind::Inpatient | Kind::Outpatient | Kind::Snf) {
        return Vec::new();
    }
    let count = rng.gen_range(0..=4);
    (1..=count)
        .map(|sequence| {
            let mut code = Short::new();
            code.push(b"0123456789BCDFGHX"[rng.gen_range(0..17)]);
            for _ in 0..6 {
                code.push(b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"[rng.gen_range(0..34)]);
            }
            Procedure {
                sequence,
                date: Stamp::new(rng.gen_range(start..=end), 0, None),
                procedure_codeable_concept: Concept::one(Coding::new(
                    ICD10_PCS,
                    Text::Short(code),
                    None,
                )),
            }
        })
        .collect()
}

/// One line with the amounts the claim totals add up.
struct Line {
    item: Item,
    submitted: i64,
    paid: i64,
}

/// Amounts of one line, in cents, consistent with each other.
struct LineAmounts {
    charge: i64,
    rate: i64,
    allowed: i64,
    paid: i64,
    coinsurance: i64,
    deductible: i64,
    patient: i64,
}

impl LineAmounts {
    fn draw(quantity: i64, rng: &mut ChaCha8Rng) -> Self {
        let scale = if rng.gen_bool(0.1) { 20 } else { 1 };
        let charge = rng.gen_range(500..=60_000) * scale;
        let allowed = charge * rng.gen_range(40..=100) / 100;
        let deductible = if rng.gen_bool(0.15) {
            allowed.min(rng.gen_range(0..=23_300))
        } else {
            0
        };
        let paid = (allowed - deductible) * 80 / 100;
        let coinsurance = allowed - deductible - paid;
        LineAmounts {
            charge,
            rate: charge / quantity.max(1),
            allowed,
            paid,
            coinsurance,
            deductible,
            patient: coinsurance + deductible,
        }
    }

    fn of(&self, role: Role) -> i64 {
        match role {
            Role::Submitted => self.charge,
            Role::Rate => self.rate,
            Role::Allowed => self.allowed,
            Role::Paid => self.paid,
            Role::Coinsurance => self.coinsurance,
            Role::Deductible => self.deductible,
            Role::NonCovered => self.charge - self.allowed,
            Role::Patient => self.patient,
            Role::Zero => 0,
        }
    }
}

impl Item {
    /// Line `sequence` of a claim whose period is `start..=end` and which has
    /// `care_team` care team members and `diagnoses` diagnoses.
    fn draw(
        claim: &ClaimType,
        sequence: u32,
        start: i64,
        end: i64,
        care_team: usize,
        diagnoses: usize,
        rng: &mut ChaCha8Rng,
    ) -> Line {
        let care_team_sequence = [rng.gen_range(1..=care_team as u32)];
        let day = rng.gen_range(start..=end);
        let mut item = match claim.family {
            Family::Professional => Item {
                diagnosis_sequence: Some([rng.gen_range(1..=diagnoses as u32)]),
                category: Some(pick(&SERVICE_TYPES, rng)),
                serviced_period: Some(Period::days(day, (day + rng.gen_range(0..=2)).min(end))),
                location_codeable_concept: Some(pick(&PLACES_OF_SERVICE, rng)),
                ..Item::new(sequence, care_team_sequence, hcpcs(rng), modifier(rng))
            },
            Family::Institutional => Item {
                revenue: Some(pick(&REVENUE_CENTERS, rng)),
                serviced_date: Some(Date(day)),
                location_address: Some(Address {
                    state: pick_str(&STATES, rng),
                }),
                ..Item::new(sequence, care_team_sequence, hcpcs(rng), modifier(rng))
            },
            Family::Pharmacy => Item {
                serviced_date: Some(Date(day)),
                ..Item::new(
                    sequence,
                    care_team_sequence,
                    Product::Listed(pick(&DRUGS, rng)),
                    None,
                )
            },
        };
        let quantity = if claim.family == Family::Pharmacy {
            let supply = *pick(&[30, 60, 90], rng);
            item.quantity.extension = Some([
                QuantityExtension {
                    url: bb_var!("fill_num"),
                    value_quantity: SimpleQuantity {
                        value: rng.gen_range(0..=11),
                    },
                },
                QuantityExtension {
                    url: bb_var!("days_suply_num"),
                    value_quantity: SimpleQuantity { value: supply },
                },
            ]);
            supply * rng.gen_range(1..=3)
        } else if rng.gen_bool(0.7) {
            1
        } else {
            rng.gen_range(2..=60)
        };
        item.quantity.value = quantity;
        let amounts = LineAmounts::draw(i64::from(quantity), rng);
        // A drug event always reports every amount; other lines a few of them.
        let kinds = match claim.family {
            Family::Pharmacy => claim.adjudications.len(),
            _ => rng.gen_range(2..=4),
        };
        item.adjudication = claim.adjudications[..kinds]
            .iter()
            .map(|kind| Adjudication {
                category: &kind.category,
                amount: Money::usd(amounts.of(kind.role)),
            })
            .collect();
        Line {
            item,
            submitted: amounts.charge,
            paid: amounts.paid,
        }
    }

    /// An item with its required parts; the caller adds the claim type's own.
    fn new(
        sequence: u32,
        care_team_sequence: [u32; 1],
        product: Product,
        modifier: Option<[&'static Fixed<Concept>; 1]>,
    ) -> Self {
        Item {
            sequence,
            care_team_sequence,
            diagnosis_sequence: None,
            category: None,
            revenue: None,
            product_or_service: product,
            modifier,
            serviced_date: None,
            serviced_period: None,
            location_codeable_concept: None,
            location_address: None,
            quantity: Quantity {
                extension: None,
                value: 1,
            },
            adjudication: Vec::new(),
        }
    }
}

fn hcpcs(rng: &mut ChaCha8Rng) -> Product {
    let mut code = Short::new();
    if rng.gen_bool(0.7) {
        code.push_digits(rng, 5);
    } else {
        code.push(b"ABCEGHJKLMPQRSTV"[rng.gen_range(0..16)]);
        code.push_digits(rng, 4);
    }
    Product::Drawn(Concept::one(Coding::new(HCPCS, Text::Short(code), None)))
}

fn modifier(rng: &mut ChaCha8Rng) -> Option<[&'static Fixed<Concept>; 1]> {
    rng.gen_bool(0.4).then(|| [pick(&MODIFIERS, rng)])
}

fn pick_str(table: &[&'static str], rng: &mut ChaCha8Rng) -> &'static str {
    table[rng.gen_range(0..table.len())]
}

fn pick<'t, T>(table: &'t [T], rng: &mut ChaCha8Rng) -> &'t T {
    &table[rng.gen_range(0..table.len())]
}

// ---------------------------------------------------------------------------
// Serialisable shapes
// ---------------------------------------------------------------------------

/// An ExplanationOfBenefit. Its own members are written by
/// [`write_json`](Self::write_json), not derived; the constant ones
/// (`resourceType`, `status`, `use`, `outcome`) are not even fields.
struct Eob<'a> {
    id: &'a str,
    meta: Meta,
    contained: Option<[Organization; 1]>,
    identifier: Option<[Identifier<'a>; 2]>,
    type_: &'static Fixed<Concept>,
    patient: Reference<'a>,
    billable_period: Period,
    created: Stamp,
    insurer: &'static Fixed<Insurer>,
    provider: Provider,
    facility: Option<&'static Fixed<Facility>>,
    care_team: Vec<CareTeam>,
    supporting_info: Vec<SupportingInfo>,
    diagnosis: Vec<Diagnosis>,
    procedure: Vec<Procedure>,
    insurance: [Insurance<'a>; 1],
    item: Vec<Item>,
    total: Option<[Total; 2]>,
    payment: Payment,
}

impl Eob<'_> {
    /// Appends the EOB's JSON text to `out`: what a derived `Serialize` would
    /// write, but with the keys and constant values of the EOB's own object
    /// as literal text, which serde_json would otherwise scan for characters
    /// to escape on every EOB (a small EOB is mostly such keys). Each member
    /// is serialised by serde_json; empty ones are left out.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        /// `text` (keys and punctuation, nothing to escape), then `value`.
        fn put<T: Serialize + ?Sized>(
            out: &mut Vec<u8>,
            text: &str,
            value: &T,
        ) -> Result<(), serde_json::Error> {
            out.extend_from_slice(text.as_bytes());
            serde_json::to_writer(out, value)
        }
        fn put_some<T: Serialize + ?Sized>(
            out: &mut Vec<u8>,
            text: &str,
            value: Option<&T>,
        ) -> Result<(), serde_json::Error> {
            value.map_or(Ok(()), |value| put(out, text, value))
        }
        fn put_nonempty<T: Serialize>(
            out: &mut Vec<u8>,
            text: &str,
            values: &[T],
        ) -> Result<(), serde_json::Error> {
            put_some(out, text, (!values.is_empty()).then_some(values))
        }

        put(
            out,
            r#"{"resourceType":"ExplanationOfBenefit","id":"#,
            self.id,
        )?;
        put(out, r#","meta":"#, &self.meta)?;
        put_some(out, r#","contained":"#, self.contained.as_ref())?;
        put_some(out, r#","identifier":"#, self.identifier.as_ref())?;
        put(out, r#","status":"active","type":"#, self.type_)?;
        put(out, r#","use":"claim","patient":"#, &self.patient)?;
        put(out, r#","billablePeriod":"#, &self.billable_period)?;
        put(out, r#","created":"#, &self.created)?;
        put(out, r#","insurer":"#, self.insurer)?;
        put(out, r#","provider":"#, &self.provider)?;
        put_some(out, r#","facility":"#, self.facility)?;
        out.extend_from_slice(br#","outcome":"complete""#);
        put_nonempty(out, r#","careTeam":"#, &self.care_team)?;
        put_nonempty(out, r#","supportingInfo":"#, &self.supporting_info)?;
        put_nonempty(out, r#","diagnosis":"#, &self.diagnosis)?;
        put_nonempty(out, r#","procedure":"#, &self.procedure)?;
        put(out, r#","insurance":"#, &self.insurance)?;
        put_nonempty(out, r#","item":"#, &self.item)?;
        put_some(out, r#","total":"#, self.total.as_ref())?;
        put(out, r#","payment":"#, &self.payment)?;
        out.push(b'}');
        Ok(())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    last_updated: Stamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'static Fixed<[&'static str; 1]>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    resource_type: &'static str,
    id: &'static str,
    meta: &'static Fixed<OrganizationMeta>,
    identifier: [OrgIdentifier; 2],
    active: bool,
}

#[derive(Serialize)]
struct OrganizationMeta {
    profile: [&'static str; 1],
}

#[derive(Serialize)]
struct OrgIdentifier {
    #[serde(rename = "type")]
    type_: &'static Fixed<Concept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'static str>,
    value: Short,
}

#[derive(Serialize)]
struct Identifier<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'static Fixed<Concept>>,
    system: &'static str,
    value: IdValue<'a>,
}

enum IdValue<'a> {
    Borrowed(&'a str),
    Short(Short),
}

impl Serialize for IdValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            IdValue::Borrowed(text) => serializer.serialize_str(text),
            IdValue::Short(text) => text.serialize(serializer),
        }
    }
}

/// `{"reference": "<head><tail>"}`, with the tail (a beneficiary id) escaped by
/// the serialiser, without building the joined string.
#[derive(Serialize)]
struct Reference<'a> {
    reference: Joined<'a>,
}

impl<'a> Reference<'a> {
    fn to(head: &'static str, tail: &'a str) -> Self {
        Reference {
            reference: Joined { head, tail },
        }
    }
}

struct Joined<'a> {
    head: &'static str,
    tail: &'a str,
}

impl Serialize for Joined<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}{}", self.head, self.tail))
    }
}

#[derive(Serialize)]
struct Insurance<'a> {
    focal: bool,
    coverage: Reference<'a>,
}

impl<'a> Insurance<'a> {
    fn focal(coverage: &'static str, beneficiary: &'a str) -> Self {
        Insurance {
            focal: true,
            coverage: Reference::to(coverage, beneficiary),
        }
    }
}

#[derive(Serialize)]
struct Insurer {
    identifier: InsurerIdentifier,
}

#[derive(Serialize)]
struct InsurerIdentifier {
    value: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Provider {
    Contained(LocalRef),
    Npi(NpiRef),
}

#[derive(Serialize)]
struct LocalRef {
    reference: &'static str,
}

#[derive(Serialize)]
struct NpiRef {
    identifier: NpiIdentifier,
}

impl NpiRef {
    fn new(
        type_: Option<&'static Fixed<Concept>>,
        system: Option<&'static str>,
        value: Short,
    ) -> Self {
        NpiRef {
            identifier: NpiIdentifier {
                type_,
                system,
                value,
            },
        }
    }
}

#[derive(Serialize)]
struct NpiIdentifier {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'static str>,
    value: Short,
}

#[derive(Serialize)]
struct Facility {
    extension: [Extension; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    url: &'static str,
    value_coding: Coding,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CareTeam {
    sequence: u32,
    provider: NpiRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    responsible: Option<bool>,
    role: &'static Fixed<Concept>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SupportingInfo {
    sequence: u32,
    category: &'static Fixed<Concept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing_period: Option<Period>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Diagnosis {
    sequence: u32,
    diagnosis_codeable_concept: Concept,
    #[serde(rename = "type")]
    type_: [&'static Fixed<Concept>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Procedure {
    sequence: u32,
    date: Stamp,
    procedure_codeable_concept: Concept,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    sequence: u32,
    care_team_sequence: [u32; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnosis_sequence: Option<[u32; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revenue: Option<&'static Fixed<Concept>>,
    product_or_service: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    modifier: Option<[&'static Fixed<Concept>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serviced_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serviced_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_codeable_concept: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_address: Option<Address>,
    quantity: Quantity,
    adjudication: Vec<Adjudication>,
}

/// A line's product or service: a drawn code or a listed drug.
#[derive(Serialize)]
#[serde(untagged)]
enum Product {
    Drawn(Concept),
    Listed(&'static Fixed<Concept>),
}

#[derive(Serialize)]
struct Address {
    state: &'static str,
}

#[derive(Serialize)]
struct Quantity {
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<[QuantityExtension; 2]>,
    value: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuantityExtension {
    url: &'static str,
    value_quantity: SimpleQuantity,
}

#[derive(Serialize)]
struct SimpleQuantity {
    value: u32,
}

#[derive(Serialize)]
struct Adjudication {
    category: &'static Fixed<Concept>,
    amount: Money,
}

#[derive(Serialize)]
struct Total {
    category: &'static Fixed<Concept>,
    amount: Money,
}

#[derive(Serialize)]
struct Payment {
    amount: Money,
}

#[derive(Serialize)]
struct Money {
    value: Cents,
    currency: &'static str,
}

impl Money {
    fn usd(cents: i64) -> Self {
        Money {
            value: Cents(cents),
            currency: "USD",
        }
    }
}

/// An amount in cents, written as a JSON number of dollars (`123.45`).
struct Cents(i64);

impl Serialize for Cents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0 as f64 / 100.0)
    }
}

#[derive(Serialize)]
struct Period {
    start: Date,
    end: Date,
}

impl Period {
    fn days(start: i64, end: i64) -> Self {
        Period {
            start: Date(start),
            end: Date(end),
        }
    }
}

/// A FHIR `date` (`YYYY-MM-DD`), held as days since 1970-01-01.
#[derive(Clone, Copy)]
struct Date(i64);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&date_str(self.0))
    }
}

/// A FHIR `dateTime` / `instant` in UTC (`YYYY-MM-DDThh:mm:ss[.mmm]+00:00`).
#[derive(Clone, Copy)]
struct Stamp {
    day: i64,
    second: u32,
    millis: Option<u16>,
}

impl Stamp {
    fn new(day: i64, second: u32, millis: Option<u16>) -> Self {
        Stamp {
            day,
            second,
            millis,
        }
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = Short::new();
        text.push_str(&date_str(self.day));
        let mut time = *b"T00:00:00";
        put_digits(&mut time[1..3], self.second / 3600);
        put_digits(&mut time[4..6], self.second / 60 % 60);
        put_digits(&mut time[7..9], self.second % 60);
        text.push_bytes(&time);
        if let Some(millis) = self.millis {
            let mut fraction = *b".000";
            put_digits(&mut fraction[1..], u32::from(millis));
            text.push_bytes(&fraction);
        }
        text.push_bytes(b"+00:00");
        text.serialize(serializer)
    }
}

/// `YYYY-MM-DD` of `day`: a slice of [`DATES`] for every day an EOB names,
/// formatted on the spot for any other.
fn date_str(day: i64) -> Cow<'static, str> {
    if (FIRST_DAY..=LAST_DAY).contains(&day) {
        let at = (day - FIRST_DAY) as usize * 10;
        Cow::Borrowed(&DATES[at..at + 10])
    } else {
        Cow::Owned(date_text(day).into_iter().map(char::from).collect())
    }
}

/// `YYYY-MM-DD` of a day number.
fn date_text(day: i64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(day);
    let mut text = *b"0000-00-00";
    put_digits(&mut text[..4], year as u32);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..], day);
    text
}

/// Fills `slot` with the last `slot.len()` decimal digits of `value`,
/// zero-padded.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Up to [`Short::CAP`] bytes of ASCII text held inline: random codes, NPIs
/// and dates cost no allocation.
#[derive(Clone, Copy)]
struct Short {
    len: u8,
    buf: [u8; Short::CAP],
}

impl Short {
    /// Room for the longest text built inline, an instant with milliseconds
    /// (29 bytes).
    const CAP: usize = 30;

    fn new() -> Self {
        Short {
            len: 0,
            buf: [0; Short::CAP],
        }
    }

    /// `value` in decimal.
    fn decimal(value: u32) -> Self {
        let mut digits = [0; 10];
        let width = value.checked_ilog10().unwrap_or(0) as usize + 1;
        put_digits(&mut digits[..width], value);
        let mut text = Short::new();
        text.push_bytes(&digits[..width]);
        text
    }

    fn digits(rng: &mut ChaCha8Rng, count: usize) -> Self {
        let mut text = Short::new();
        text.push_digits(rng, count);
        text
    }

    /// Appends one ASCII byte; bytes past the capacity are dropped (never
    /// happens with the texts built here).
    fn push(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        if usize::from(self.len) < Short::CAP {
            self.buf[usize::from(self.len)] = byte;
            self.len += 1;
        }
    }

    fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// Appends ASCII bytes; those past the capacity are dropped, as in
    /// [`push`](Self::push).
    fn push_bytes(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.is_ascii());
        let start = usize::from(self.len);
        let end = (start + bytes.len()).min(Short::CAP);
        self.buf[start..end].copy_from_slice(&bytes[..end - start]);
        self.len = end as u8;
    }

    fn push_digits(&mut self, rng: &mut ChaCha8Rng, count: usize) {
        for _ in 0..count {
            self.push(b'0' + rng.gen_range(0..10u8));
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Serialize for Short {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Text that is either fixed or a random code built inline.
#[derive(Clone, Copy)]
enum Text {
    Fixed(&'static str),
    Short(Short),
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Fixed(text) => serializer.serialize_str(text),
            Text::Short(text) => text.serialize(serializer),
        }
    }
}

#[derive(Clone, Copy, Serialize)]
struct Coding {
    system: &'static str,
    code: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'static str>,
}

impl Coding {
    const fn fixed(
        system: &'static str,
        code: &'static str,
        display: Option<&'static str>,
    ) -> Self {
        Coding {
            system,
            code: Text::Fixed(code),
            display,
        }
    }

    const fn new(system: &'static str, code: Text, display: Option<&'static str>) -> Self {
        Coding {
            system,
            code,
            display,
        }
    }
}

/// A FHIR CodeableConcept; fixed ones are `static` [`Fixed`] values, drawn
/// ones hold their one coding inline.
#[derive(Serialize)]
struct Concept {
    coding: Codings,
}

impl Concept {
    const fn fixed(coding: &'static [Coding]) -> Self {
        Concept {
            coding: Codings::Fixed(coding),
        }
    }

    fn one(coding: Coding) -> Self {
        Concept {
            coding: Codings::One([coding]),
        }
    }
}

enum Codings {
    Fixed(&'static [Coding]),
    One([Coding; 1]),
}

impl Serialize for Codings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Codings::Fixed(codings) => codings.serialize(serializer),
            Codings::One(codings) => codings.serialize(serializer),
        }
    }
}

/// A value of the fixed vocabulary (a concept, the insurer, a facility, …)
/// with its JSON text, made on first use: serialising it writes that text
/// verbatim, so the serialiser neither walks the value nor scans its strings
/// for characters to escape. The text is serde_json's own serialisation of the
/// value, so the output is the same, byte for byte, as serialising the value.
///
/// Every `Fixed` lives in a `static` table (never a `const`, which would copy
/// the cache; nor a promoted `&[…]` temporary, which cannot hold one).
struct Fixed<T> {
    /// What the text is made from, once.
    value: T,
    /// The text, as a [`RawValue`] because serde_json writes those verbatim.
    json: OnceLock<Box<RawValue>>,
}

impl<T: Serialize> Fixed<T> {
    const fn new(value: T) -> Self {
        Fixed {
            value,
            json: OnceLock::new(),
        }
    }

    fn json(&self) -> &RawValue {
        self.json.get_or_init(|| {
            // Cannot fail: the vocabulary holds only strings and arrays of them.
            serde_json::value::to_raw_value(&self.value).expect("the vocabulary serialises")
        })
    }
}

impl<T: Serialize> Serialize for Fixed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(serializer)
    }
}

// ---------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = (if year >= 0 { year } else { year - 399 }) / 400;
    let year_of_era = year - era * 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `(year, month, day)` of a day number, inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------
// Claim types and fixed vocabulary
// ---------------------------------------------------------------------------

/// An item adjudication category: a CARIN / HL7 code plus BFD's own variable.
macro_rules! adjudication {
    ($system:expr, $code:literal, $display:literal, $variable:literal, $variable_display:literal, $role:ident) => {
        AdjudicationKind {
            category: Fixed::new(Concept::fixed(&[
                Coding::fixed($system, $code, Some($display)),
                Coding::fixed(BB_ADJUDICATION, bb_var!($variable), Some($variable_display)),
            ])),
            role: Role::$role,
        }
    };
}

/// A supporting-information category with the values its code takes (none:
/// a `timingDate` instead). The values are a named `static` because a `Fixed`
/// caches its text, and a reference to such a value cannot be a promoted
/// temporary.
macro_rules! info {
    ($system:expr, $code:literal, $display:literal, $variable:literal, $variable_display:literal, [$(($value:literal, $value_display:literal)),* $(,)?]) => {
        InfoKind {
            category: Fixed::new(Concept::fixed(&[
                Coding::fixed($system, $code, Some($display)),
                Coding::fixed(BB_INFORMATION, bb_var!($variable), Some($variable_display)),
            ])),
            codes: {
                static CODES: [Fixed<Concept>; <[&str]>::len(&[$($value),*])] =
                    [$(concept!(bb_var!($variable), $value, $value_display)),*];
                &CODES
            },
            admission: false,
        }
    };
}

/// A fixed CodeableConcept of one coding.
macro_rules! concept {
    ($system:expr, $code:literal) => {
        Fixed::new(Concept::fixed(&[Coding::fixed($system, $code, None)]))
    };
    ($system:expr, $code:literal, $display:literal) => {
        Fixed::new(Concept::fixed(&[Coding::fixed(
            $system,
            $code,
            Some($display),
        )]))
    };
}

const HL7_ADJUDICATION: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
const C4BB_ADJUDICATION: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication";
const BB_ADJUDICATION: &str = "https://bluebutton.cms.gov/resources/codesystem/adjudication";
const BB_INFORMATION: &str = "https://bluebutton.cms.gov/resources/codesystem/information";
const HL7_INFO_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/claiminformationcategory";
const C4BB_SUPPORTING_INFO: &str =
    "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType";
const C4BB_IDENTIFIER: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType";
const C4BB_ROLE: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole";
const C4BB_DIAGNOSIS: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType";
const HL7_DIAGNOSIS: &str = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype";
const EOB_TYPE: &str = "https://bluebutton.cms.gov/resources/codesystem/eob-type";
const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
const NCH_CLAIM_TYPE: &str = bb_var!("nch_clm_type_cd");
const CLAIM_GROUP: &str = "https://bluebutton.cms.gov/resources/identifier/claim-group";
const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const ICD10_PCS: &str = "http://www.cms.gov/Medicare/Coding/ICD10";
const HCPCS: &str = "https://bluebutton.cms.gov/resources/codesystem/hcpcs";
const NDC: &str = "http://hl7.org/fhir/sid/ndc";
const REV_CNTR: &str = bb_var!("rev_cntr");
const NUBC_REVENUE: &str = "https://www.nubc.org/CodeSystem/RevenueCodes";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Carrier,
    Dme,
    Hha,
    Hospice,
    Inpatient,
    Outpatient,
    Snf,
    Pde,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Professional,
    Institutional,
    Pharmacy,
}

/// What a claim type's EOBs look like.
struct ClaimType {
    kind: Kind,
    family: Family,
    /// Lower-case id prefix, as BFD's (`carrier-…`, `pde-…`).
    prefix: &'static str,
    /// Share of EOBs of this type, in percent (the shares add up to 100).
    weight: u32,
    /// `type` of full EOBs: NCH claim type (not for drug events), BFD EOB type,
    /// HL7 claim type.
    full_type: Fixed<Concept>,
    /// `type` of small EOBs: BFD EOB type and HL7 claim type only.
    small_type: Fixed<Concept>,
    profile: Fixed<[&'static str; 1]>,
    claim_id_system: &'static str,
    /// Coverage reference prefix, completed by the beneficiary id.
    coverage: &'static str,
    facility: Option<&'static Fixed<Facility>>,
    max_span_days: i64,
    /// Items are `1 + floor(extra_items × u²)` for uniform `u`: mostly few,
    /// sometimes many.
    extra_items: u32,
    roles: &'static [Fixed<Concept>],
    info: &'static [InfoKind],
    adjudications: &'static [AdjudicationKind],
}

impl ClaimType {
    fn draw(rng: &mut ChaCha8Rng) -> &'static ClaimType {
        let mut draw = rng.gen_range(0..100);
        for claim in &CLAIM_TYPES {
            if draw < claim.weight {
                return claim;
            }
            draw -= claim.weight;
        }
        &CLAIM_TYPES[0]
    }

    fn items(&self, rng: &mut ChaCha8Rng) -> u32 {
        let u: f64 = rng.gen();
        1 + (f64::from(self.extra_items) * u * u) as u32
    }
}

#[derive(Clone, Copy)]
enum Role {
    Submitted,
    Rate,
    Allowed,
    Paid,
    Coinsurance,
    Deductible,
    NonCovered,
    Patient,
    Zero,
}

struct AdjudicationKind {
    category: Fixed<Concept>,
    role: Role,
}

struct InfoKind {
    category: Fixed<Concept>,
    codes: &'static [Fixed<Concept>],
    /// An admission period (`timingPeriod` = the billable period).
    admission: bool,
}

macro_rules! claim_type {
    (
        $kind:ident, $family:ident, $prefix:literal, $weight:literal, nch: [$($nch:expr)?],
        $eob_type:literal, $claim_type:literal, $claim_type_display:literal, $profile:literal,
        $claim_id:literal, $coverage:literal, $facility:expr, $span:literal, $extra:literal,
        $roles:expr, $info:expr, $adjudications:expr
    ) => {
        ClaimType {
            kind: Kind::$kind,
            family: Family::$family,
            prefix: $prefix,
            weight: $weight,
            full_type: Fixed::new(Concept::fixed(&[
                $($nch,)?
                Coding::fixed(EOB_TYPE, $eob_type, None),
                Coding::fixed(CLAIM_TYPE, $claim_type, Some($claim_type_display)),
            ])),
            small_type: Fixed::new(Concept::fixed(&[
                Coding::fixed(EOB_TYPE, $eob_type, None),
                Coding::fixed(CLAIM_TYPE, $claim_type, None),
            ])),
            profile: Fixed::new([concat!(
                "http://hl7.org/fhir/us/carin-bb/StructureDefinition/",
                $profile
            )]),
            claim_id_system: bb_var!($claim_id),
            coverage: concat!("Coverage/", $coverage, "-"),
            facility: $facility,
            max_span_days: $span,
            extra_items: $extra,
            roles: $roles,
            info: $info,
            adjudications: $adjudications,
        }
    };
}

static CLAIM_TYPES: [ClaimType; 8] = [
    claim_type!(
        Carrier, Professional, "carrier", 38,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "71", Some("Local carrier non-durable medical equipment, prosthetics, orthotics, and supplies (DMEPOS) claim"))],
        "CARRIER", "professional", "Professional", "C4BB-ExplanationOfBenefit-Professional-NonClinician",
        "clm_id", "part-b", None, 3, 5,
        &PROFESSIONAL_ROLES, &PROFESSIONAL_INFO, &PROFESSIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Dme, Professional, "dme", 6,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "82", Some("DMEPOS claim"))],
        "DME", "professional", "Professional", "C4BB-ExplanationOfBenefit-Professional-NonClinician",
        "clm_id", "part-b", None, 30, 5,
        &PROFESSIONAL_ROLES, &DME_INFO, &PROFESSIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Hha, Institutional, "hha", 3,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "10", Some("Home Health Agency (HHA) claim"))],
        "HHA", "institutional", "Institutional", "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
        "clm_id", "part-a", Some(&FACILITY_HHA), 30, 14,
        &INSTITUTIONAL_ROLES, &INSTITUTIONAL_INFO, &INSTITUTIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Hospice, Institutional, "hospice", 3,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "50", Some("Hospice claim"))],
        "HOSPICE", "institutional", "Institutional", "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
        "clm_id", "part-a", Some(&FACILITY_HOSPICE), 30, 14,
        &INSTITUTIONAL_ROLES, &INSTITUTIONAL_INFO, &INSTITUTIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Inpatient, Institutional, "inpatient", 5,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "60", Some("Inpatient claim"))],
        "INPATIENT", "institutional", "Institutional", "C4BB-ExplanationOfBenefit-Inpatient-Institutional",
        "clm_id", "part-a", Some(&FACILITY_HOSPITAL), 30, 30,
        &INSTITUTIONAL_ROLES, &INPATIENT_INFO, &INSTITUTIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Outpatient, Institutional, "outpatient", 12,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "40", Some("Hospital Outpatient claim"))],
        "OUTPATIENT", "institutional", "Institutional", "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
        "clm_id", "part-b", Some(&FACILITY_HOSPITAL), 5, 16,
        &INSTITUTIONAL_ROLES, &INSTITUTIONAL_INFO, &INSTITUTIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Snf, Institutional, "snf", 3,
        nch: [Coding::fixed(NCH_CLAIM_TYPE, "20", Some("Non swing bed Skilled Nursing Facility (SNF) claim"))],
        "SNF", "institutional", "Institutional", "C4BB-ExplanationOfBenefit-Inpatient-Institutional",
        "clm_id", "part-a", Some(&FACILITY_SNF), 30, 20,
        &INSTITUTIONAL_ROLES, &INPATIENT_INFO, &INSTITUTIONAL_ADJUDICATIONS
    ),
    claim_type!(
        Pde, Pharmacy, "pde", 30,
        nch: [],
        "PDE", "pharmacy", "Pharmacy", "C4BB-ExplanationOfBenefit-Pharmacy",
        "pde_id", "part-d", None, 0, 0,
        &PHARMACY_ROLES, &PHARMACY_INFO, &PHARMACY_ADJUDICATIONS
    ),
];

static INSURER: Fixed<Insurer> = Fixed::new(Insurer {
    identifier: InsurerIdentifier { value: "CMS" },
});

static ORGANIZATION_META: Fixed<OrganizationMeta> = Fixed::new(OrganizationMeta {
    profile: [concat!(
        "http://hl7.org/fhir/us/carin-bb/StructureDefinition/",
        "C4BB-Organization"
    )],
});

static ID_TYPE_PRN: Fixed<Concept> = concept!(
    "http://terminology.hl7.org/CodeSystem/v2-0203",
    "PRN",
    "Provider number"
);
static ID_TYPE_NPI: Fixed<Concept> =
    concept!(C4BB_IDENTIFIER, "npi", "National Provider Identifier");
static ID_TYPE_UNIQUE_CLAIM: Fixed<Concept> = concept!(C4BB_IDENTIFIER, "uc", "Unique Claim ID");

macro_rules! facility {
    ($code:literal, $display:literal) => {
        Fixed::new(Facility {
            extension: [Extension {
                url: bb_var!("clm_fac_type_cd"),
                value_coding: Coding::fixed(bb_var!("clm_fac_type_cd"), $code, Some($display)),
            }],
        })
    };
}

static FACILITY_HOSPITAL: Fixed<Facility> = facility!("1", "Hospital");
static FACILITY_SNF: Fixed<Facility> = facility!("2", "Skilled nursing facility (SNF)");
static FACILITY_HHA: Fixed<Facility> = facility!("3", "Home Health Agency (HHA)");
static FACILITY_HOSPICE: Fixed<Facility> = facility!(
    "8",
    "Special facility or Ambulatory Surgical Center (ASC) surgery"
);

static PROFESSIONAL_ROLES: [Fixed<Concept>; 3] = [
    concept!(C4BB_ROLE, "performing", "Performing provider"),
    concept!(C4BB_ROLE, "referring", "Referring"),
    concept!(C4BB_ROLE, "supervising", "Supervising"),
];
static INSTITUTIONAL_ROLES: [Fixed<Concept>; 4] = [
    concept!(C4BB_ROLE, "attending", "Attending"),
    concept!(C4BB_ROLE, "operating", "Operating"),
    concept!(C4BB_ROLE, "otheroperating", "Other Operating"),
    concept!(C4BB_ROLE, "rendering", "Rendering provider"),
];
static PHARMACY_ROLES: [Fixed<Concept>; 1] =
    [concept!(C4BB_ROLE, "prescribing", "Prescribing provider")];

static DIAG_PRINCIPAL: Fixed<Concept> = concept!(HL7_DIAGNOSIS, "principal", "Principal Diagnosis");
static DIAG_ADMITTING: Fixed<Concept> = concept!(HL7_DIAGNOSIS, "admitting", "Admitting Diagnosis");
static DIAG_SECONDARY: Fixed<Concept> = concept!(C4BB_DIAGNOSIS, "secondary", "Secondary");
static DIAG_OTHER: Fixed<Concept> = concept!(C4BB_DIAGNOSIS, "other", "Other");

static TOTAL_SUBMITTED: Fixed<Concept> = Fixed::new(Concept::fixed(&[
    Coding::fixed(HL7_ADJUDICATION, "submitted", Some("Submitted Amount")),
    Coding::fixed(
        BB_ADJUDICATION,
        bb_var!("clm_tot_chrg_amt"),
        Some("Claim Total Charge Amount"),
    ),
]));
static TOTAL_BENEFIT: Fixed<Concept> = Fixed::new(Concept::fixed(&[
    Coding::fixed(HL7_ADJUDICATION, "benefit", Some("Benefit Amount")),
    Coding::fixed(
        BB_ADJUDICATION,
        bb_var!("clm_pmt_amt"),
        Some("Claim Payment Amount"),
    ),
]));

static PROFESSIONAL_ADJUDICATIONS: [AdjudicationKind; 8] = [
    adjudication!(
        HL7_ADJUDICATION,
        "submitted",
        "Submitted Amount",
        "line_sbmtd_chrg_amt",
        "Line Submitted Charge Amount",
        Submitted
    ),
    adjudication!(
        HL7_ADJUDICATION,
        "eligible",
        "Eligible Amount",
        "line_alowd_chrg_amt",
        "Line Allowed Charge Amount",
        Allowed
    ),
    adjudication!(
        HL7_ADJUDICATION,
        "benefit",
        "Benefit Amount",
        "line_nch_pmt_amt",
        "Line NCH Medicare Payment Amount",
        Paid
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "coinsurance",
        "Co-insurance",
        "line_coinsrnc_amt",
        "Line Beneficiary Coinsurance Amount",
        Coinsurance
    ),
    adjudication!(
        HL7_ADJUDICATION,
        "deductible",
        "Deductible",
        "line_bene_ptb_ddctbl_amt",
        "Line Beneficiary Part B Deductible Amount",
        Deductible
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidtoprovider",
        "Paid to provider",
        "line_prvdr_pmt_amt",
        "Line Provider Payment Amount",
        Paid
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidtopatient",
        "Paid to patient",
        "line_bene_pmt_amt",
        "Line Payment Amount to Beneficiary",
        Zero
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "priorpayerpaid",
        "Prior payer paid",
        "line_bene_prmry_pyr_pd_amt",
        "Line Primary Payer (if not Medicare) Paid Amount",
        Zero
    ),
];

static INSTITUTIONAL_ADJUDICATIONS: [AdjudicationKind; 8] = [
    adjudication!(
        HL7_ADJUDICATION,
        "submitted",
        "Submitted Amount",
        "rev_cntr_tot_chrg_amt",
        "Revenue Center Total Charge Amount",
        Submitted
    ),
    adjudication!(
        HL7_ADJUDICATION,
        "submitted",
        "Submitted Amount",
        "rev_cntr_rate_amt",
        "Revenue Center Rate Amount",
        Rate
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidtoprovider",
        "Paid to provider",
        "rev_cntr_prvdr_pmt_amt",
        "Revenue Center (Medicare) Provider Payment Amount",
        Paid
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "noncovered",
        "Noncovered",
        "rev_cntr_ncvrd_chrg_amt",
        "Revenue Center Non-Covered Charge Amount",
        NonCovered
    ),
    adjudication!(
        HL7_ADJUDICATION,
        "deductible",
        "Deductible",
        "rev_cntr_cash_ddctbl_amt",
        "Revenue Center Cash Deductible Amount",
        Deductible
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "coinsurance",
        "Co-insurance",
        "rev_cntr_coinsrnc_wge_adjstd_c",
        "Revenue Center Coinsurance/Wage Adjusted Coinsurance Amount",
        Coinsurance
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidbypatient",
        "Paid by patient",
        "rev_cntr_ptnt_rspnsblty_pmt",
        "Revenue Center Patient Responsibility Payment Amount",
        Patient
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidtopatient",
        "Paid to patient",
        "rev_cntr_bene_pmt_amt",
        "Revenue Center Payment Amount to Beneficiary",
        Zero
    ),
];

static PHARMACY_ADJUDICATIONS: [AdjudicationKind; 9] = [
    adjudication!(
        C4BB_ADJUDICATION,
        "drugcost",
        "Drug cost",
        "tot_rx_cst_amt",
        "Total drug cost (Part D)",
        Submitted
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "benefit",
        "Benefit Amount",
        "cvrd_d_plan_pd_amt",
        "Amount paid by Part D plan for the PDE (drug is covered by Part D)",
        Paid
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "paidbypatient",
        "Paid by patient",
        "ptnt_pay_amt",
        "Amount Paid by Patient",
        Patient
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "coinsurance",
        "Coinsurance",
        "gdc_blw_oopt_amt",
        "Gross Drug Cost Below Part D Out-of-Pocket Threshold (GDCB)",
        Allowed
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "coinsurance",
        "Coinsurance",
        "gdc_abv_oopt_amt",
        "Gross Drug Cost Above Part D Out-of-Pocket Threshold (GDCA)",
        Zero
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "priorpayerpaid",
        "Prior payer paid",
        "othr_troop_amt",
        "Other True Out-of-Pocket (TrOOP) Amount",
        Zero
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "discount",
        "Discount",
        "lics_amt",
        "Amount paid for the PDE by Part D low income subsidy",
        Zero
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "priorpayerpaid",
        "Prior payer paid",
        "plro_amt",
        "Reduction in patient liability due to payments by other payers (PLRO)",
        Zero
    ),
    adjudication!(
        C4BB_ADJUDICATION,
        "discount",
        "Discount",
        "rptd_gap_dscnt_num",
        "Gap Discount Amount",
        Zero
    ),
];

/// Claim received date: a `timingDate`, no code. A macro, not a `const`: a
/// `Fixed` holds its cache, so each table gets its own copy.
macro_rules! received {
    () => {
        info!(
            C4BB_SUPPORTING_INFO,
            "clmrecvddate",
            "Claim Received Date",
            "nch_wkly_proc_dt",
            "NCH Weekly Claim Processing Date",
            []
        )
    };
}

static PROFESSIONAL_INFO: [InfoKind; 5] = [
    received!(),
    info!(HL7_INFO_CATEGORY, "info", "Information", "nch_near_line_rec_ident_cd", "NCH Near Line Record Identification Code", [
        ("O", "Part B physician/supplier claim record (processed by local carriers; can include DMEPOS services)"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "carr_clm_entry_cd", "Carrier Claim Entry Code", [
        ("1", "Original debit; void of original debit (If CLM_DISP_CD = 3, code 1 means voided original debit)"),
        ("3", "Full credit"),
        ("5", "Original debit for Part B claim"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "carr_clm_pmt_dnl_cd", "Carrier Claim Payment Denial Code", [
        ("1", "Physician/supplier"),
        ("2", "Beneficiary"),
        ("A", "Allowed"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_disp_cd", "Claim Disposition Code", [
        ("01", "Debit accepted"),
        ("02", "Debit accepted (automatic adjustment)"),
    ]),
];

static DME_INFO: [InfoKind; 4] = [
    received!(),
    info!(HL7_INFO_CATEGORY, "info", "Information", "nch_near_line_rec_ident_cd", "NCH Near Line Record Identification Code", [
        ("M", "Part B DMEPOS claim record (processed by DME Regional Carrier) [For years prior to 1998, this was Part B DMEPOS claim record]"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "carr_clm_pmt_dnl_cd", "Carrier Claim Payment Denial Code", [
        ("1", "Physician/supplier"),
        ("2", "Beneficiary"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_disp_cd", "Claim Disposition Code", [
        ("01", "Debit accepted"),
    ]),
];

static INSTITUTIONAL_INFO: [InfoKind; 6] = [
    received!(),
    info!(C4BB_SUPPORTING_INFO, "typeofbill", "Type of Bill", "clm_freq_cd", "Claim Frequency Code", [
        ("1", "Admit thru discharge claim"),
        ("7", "Replacement of prior claim"),
        ("0", "Non-payment/zero claims"),
    ]),
    info!(C4BB_SUPPORTING_INFO, "discharge-status", "Discharge Status", "ptnt_dschrg_stus_cd", "Patient Discharge Status Code", [
        ("01", "Discharged to home/self-care (routine charge)."),
        ("03", "Discharged/transferred to skilled nursing facility (SNF) with Medicare certification in anticipation of covered skilled care -- (See Condition Code 65)."),
        ("06", "Discharged/transferred to home care of organized home health service organization."),
        ("30", "Still patient."),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "nch_near_line_rec_ident_cd", "NCH Near Line Record Identification Code", [
        ("V", "Part A institutional claim record (inpatient [IP], skilled nursing facility [SNF], hospice [HOS], or home health agency [HHA])"),
        ("W", "Part B institutional claim record (outpatient [HOP], HHA)"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "nch_prmry_pyr_cd", "NCH Primary Payer Code (if not Medicare)", [
        ("A", "Employer group health plan (EGHP) insurance for an aged beneficiary"),
        ("E", "Workers' compensation"),
        ("", "Medicare is primary payer"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_mco_pd_sw", "Claim MCO Paid Switch", [
        ("0", "No managed care organization (MCO) payment"),
        ("1", "MCO paid the provider for the claim"),
    ]),
];

static INPATIENT_INFO: [InfoKind; 8] = [
    received!(),
    InfoKind {
        category: concept!(C4BB_SUPPORTING_INFO, "admissionperiod", "Admission Period"),
        codes: &[],
        admission: true,
    },
    info!(C4BB_SUPPORTING_INFO, "typeofbill", "Type of Bill", "clm_freq_cd", "Claim Frequency Code", [
        ("1", "Admit thru discharge claim"),
        ("7", "Replacement of prior claim"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_ip_admsn_type_cd", "Claim Inpatient Admission Type Code", [
        ("1", "Emergency - The patient required immediate medical intervention as a result of severe, life threatening, or potentially disabling conditions. Generally, the patient was admitted through the emergency room."),
        ("2", "Urgent - The patient required immediate attention for the care and treatment of a physical or mental disorder. Generally, the patient was admitted to the first available and suitable accommodation."),
        ("3", "Elective - The patient's condition permitted adequate time to schedule the availability of suitable accommodations."),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_src_ip_admsn_cd", "Claim Source Inpatient Admission Code", [
        ("1", "Non-Health Care Facility Point of Origin"),
        ("2", "Clinic or Physician's Office"),
        ("4", "Transfer from a hospital (different facility)"),
    ]),
    info!(C4BB_SUPPORTING_INFO, "discharge-status", "Discharge Status", "ptnt_dschrg_stus_cd", "Patient Discharge Status Code", [
        ("01", "Discharged to home/self-care (routine charge)."),
        ("51", "Discharged/transferred to a Hospice \u{2013} medical facility."),
        ("62", "Discharged/transferred to an inpatient rehabilitation facility including distinct parts units of a hospital."),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_drg_cd", "Claim Diagnosis Related Group Code (or MS-DRG Code)", [
        ("470", "Major joint replacement or reattachment of lower extremity without MCC"),
        ("871", "Septicemia or severe sepsis without MV >96 hours with MCC"),
        ("291", "Heart failure and shock with MCC"),
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "nch_ptnt_stus_ind_cd", "NCH Patient Status Indicator Code", [
        ("A", "Discharged"),
        ("C", "Still a patient"),
    ]),
];

static PHARMACY_INFO: [InfoKind; 8] = [
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "daw_prod_slctn_cd",
        "Dispense as Written (DAW) Product Selection Code",
        [
            (
                "0",
                "No Product Selection Indicated (may also have missing values)"
            ),
            ("1", "Substitution Not Allowed by Prescriber"),
        ]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "dspnsng_stus_cd",
        "Dispensing Status Code",
        [("P", "Partial fill"), ("C", "Completion of partial fill"),]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "drug_cvrg_stus_cd",
        "Drug Coverage Status Code",
        [
            ("C", "Covered"),
            (
                "E",
                "Supplemental drugs (reported by plans that provide Enhanced Alternative coverage)"
            ),
        ]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "rx_orgn_cd",
        "Prescription Origination Code",
        [("1", "Written"), ("2", "Telephone"), ("3", "Electronic"),]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "brnd_gnrc_cd",
        "Brand-Generic Code Reported by Submitting Plan",
        [("B", "Brand"), ("G", "Generic Null/missing"),]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "phrmcy_srvc_type_cd",
        "Pharmacy service type code",
        [
            ("01", "Community/retail pharmacy"),
            ("06", "Mail order pharmacy"),
        ]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "ptnt_rsdnc_cd",
        "Patient Residence Code",
        [("01", "Home"), ("03", "Nursing facility"),]
    ),
    info!(
        HL7_INFO_CATEGORY,
        "info",
        "Information",
        "submsn_clr_cd",
        "Submission clarification code",
        [
            ("08", "Process compound for approved ingredients"),
            (
                "16",
                "LTC emergency box (e box) /automated dispensing machine"
            ),
        ]
    ),
];

static SERVICE_TYPES: [Fixed<Concept>; 4] = [
    concept!(bb_var!("line_cms_type_srvc_cd"), "1", "Medical care"),
    concept!(bb_var!("line_cms_type_srvc_cd"), "2", "Surgery"),
    concept!(
        bb_var!("line_cms_type_srvc_cd"),
        "5",
        "Diagnostic laboratory"
    ),
    concept!(
        bb_var!("line_cms_type_srvc_cd"),
        "P",
        "Lump sum purchase of DME, prosthetics orthotics"
    ),
];

static PLACES_OF_SERVICE: [Fixed<Concept>; 5] = [
    concept!(bb_var!("line_place_of_srvc_cd"), "11", "Office"),
    concept!(bb_var!("line_place_of_srvc_cd"), "12", "Home"),
    concept!(bb_var!("line_place_of_srvc_cd"), "21", "Inpatient hospital"),
    concept!(
        bb_var!("line_place_of_srvc_cd"),
        "22",
        "Outpatient hospital"
    ),
    concept!(
        bb_var!("line_place_of_srvc_cd"),
        "81",
        "Independent laboratory"
    ),
];

/// A revenue center code in BFD's variable and in NUBC's code system.
macro_rules! revenue {
    ($($code:literal),* $(,)?) => {
        [$(Fixed::new(Concept::fixed(&[
            Coding::fixed(REV_CNTR, $code, None),
            Coding::fixed(NUBC_REVENUE, $code, None),
        ]))),*]
    };
}

static REVENUE_CENTERS: [Fixed<Concept>; 12] = revenue!(
    "0001", "0120", "0250", "0270", "0300", "0320", "0450", "0636", "0730", "0420", "0023", "0651",
);

static MODIFIERS: [Fixed<Concept>; 8] = [
    concept!(HCPCS, "LT"),
    concept!(HCPCS, "RT"),
    concept!(HCPCS, "25"),
    concept!(HCPCS, "59"),
    concept!(HCPCS, "KO"),
    concept!(HCPCS, "GP"),
    concept!(HCPCS, "TC"),
    concept!(HCPCS, "26"),
];

static STATES: [&str; 20] = [
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IA", "IL", "KY", "MA", "MD", "MI", "NY", "OH", "PA",
    "TX", "UT", "VA", "WA",
];

static DRUGS: [Fixed<Concept>; 10] = [
    concept!(NDC, "67877022305", "Gabapentin - GABAPENTIN"),
    concept!(
        NDC,
        "00093715698",
        "Atorvastatin Calcium - ATORVASTATIN CALCIUM"
    ),
    concept!(NDC, "68180051303", "Lisinopril - LISINOPRIL"),
    concept!(
        NDC,
        "00378018077",
        "Metformin Hydrochloride - METFORMIN HYDROCHLORIDE"
    ),
    concept!(
        NDC,
        "60505257909",
        "Amlodipine Besylate - AMLODIPINE BESYLATE"
    ),
    concept!(NDC, "00781507810", "Omeprazole - OMEPRAZOLE"),
    concept!(
        NDC,
        "16714003401",
        "Levothyroxine Sodium - LEVOTHYROXINE SODIUM"
    ),
    concept!(
        NDC,
        "00904629161",
        "Losartan Potassium - LOSARTAN POTASSIUM"
    ),
    concept!(
        NDC,
        "51079025520",
        "Metoprolol Tartrate - METOPROLOL TARTRATE"
    ),
    concept!(
        NDC,
        "00173071520",
        "Fluticasone Propionate - FLUTICASONE PROPIONATE"
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::*;

    fn source(config: SyntheticConfig) -> SyntheticSource {
        SyntheticSource::new(config)
    }

    fn default_source() -> SyntheticSource {
        source(SyntheticConfig::default())
    }

    fn parse(resource: &Resource) -> Value {
        serde_json::from_str(resource.as_str()).expect("every resource is valid JSON")
    }

    fn id_of(resource: &Resource) -> &str {
        let head = "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"";
        let rest = resource
            .as_str()
            .strip_prefix(head)
            .expect("resourceType then id");
        &rest[..rest.find('"').expect("id is a string")]
    }

    fn is_fhir_id(id: &str) -> bool {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    }

    fn str_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} is a string in {value}"))
    }

    fn array_at<'v>(value: &'v Value, pointer: &str) -> &'v Vec<Value> {
        let array = value
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{pointer} is an array in {value}"));
        assert!(!array.is_empty(), "{pointer} is empty");
        array
    }

    fn year_of(date: &str) -> u32 {
        assert!(date.len() >= 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-');
        date[..4].parse().expect("a four-digit year")
    }

    fn coding_code<'v>(concept: &'v Value, system: &str) -> Option<&'v str> {
        concept["coding"]
            .as_array()?
            .iter()
            .find(|coding| coding["system"] == system)
            .and_then(|coding| coding["code"].as_str())
    }

    /// The elements FHIR R4 requires of every ExplanationOfBenefit, plus the
    /// ones small EOBs promise; returns the BFD EOB type.
    fn check_required(eob: &Value, beneficiary: &str) -> String {
        assert_eq!(eob["resourceType"], "ExplanationOfBenefit");
        assert!(is_fhir_id(str_at(eob, "/id")), "bad id in {eob}");
        str_at(eob, "/meta/lastUpdated");
        assert_eq!(eob["status"], "active");
        let eob_type = coding_code(&eob["type"], EOB_TYPE).expect("an eob-type coding");
        let claim_type = coding_code(&eob["type"], CLAIM_TYPE).expect("a claim-type coding");
        let family = match eob_type {
            "CARRIER" | "DME" => "professional",
            "HHA" | "HOSPICE" | "INPATIENT" | "OUTPATIENT" | "SNF" => "institutional",
            "PDE" => "pharmacy",
            other => panic!("unexpected eob type {other}"),
        };
        assert_eq!(claim_type, family);
        assert!(str_at(eob, "/id").starts_with(&format!("{}-", eob_type.to_lowercase())));
        assert_eq!(eob["use"], "claim");
        assert_eq!(
            str_at(eob, "/patient/reference"),
            format!("Patient/{beneficiary}")
        );
        let start = str_at(eob, "/billablePeriod/start");
        let end = str_at(eob, "/billablePeriod/end");
        assert!(start <= end);
        assert!((2015..=2024).contains(&year_of(start)) && (2015..=2024).contains(&year_of(end)));
        assert!(str_at(eob, "/created") > end);
        assert!(eob["insurer"].is_object());
        let provider = &eob["provider"];
        match provider.get("reference") {
            Some(reference) => {
                assert_eq!(reference, "#provider-org");
                assert_eq!(eob["contained"][0]["resourceType"], "Organization");
                assert_eq!(eob["contained"][0]["id"], "provider-org");
            }
            None => {
                str_at(provider, "/identifier/value");
            }
        }
        assert_eq!(eob["outcome"], "complete");
        let insurance = array_at(eob, "/insurance");
        assert_eq!(insurance[0]["focal"], true);
        let coverage = str_at(&insurance[0], "/coverage/reference");
        assert!(coverage.starts_with("Coverage/part-") && coverage.ends_with(beneficiary));
        assert!(eob["payment"]["amount"]["value"].is_number());
        eob_type.to_string()
    }

    /// Everything a full EOB carries besides the required elements.
    fn check_full(eob: &Value, beneficiary: &str) -> String {
        let eob_type = check_required(eob, beneficiary);
        let identifiers = array_at(eob, "/identifier");
        let systems: Vec<&str> = identifiers.iter().map(|id| str_at(id, "/system")).collect();
        assert!(systems.contains(&bb_var!("clm_id")) || systems.contains(&bb_var!("pde_id")));
        assert!(systems.contains(&CLAIM_GROUP));
        assert!(str_at(eob, "/meta/profile/0").starts_with("http://hl7.org/fhir/us/carin-bb/"));

        let care_team = array_at(eob, "/careTeam");
        for member in care_team {
            assert!(member["sequence"].is_u64());
            str_at(member, "/provider/identifier/value");
            str_at(member, "/role/coding/0/code");
        }
        let diagnoses = if eob_type == "PDE" {
            assert!(eob.get("diagnosis").is_none());
            0
        } else {
            let diagnoses = array_at(eob, "/diagnosis");
            for diagnosis in diagnoses {
                str_at(diagnosis, "/diagnosisCodeableConcept/coding/0/code");
                str_at(diagnosis, "/type/0/coding/0/code");
            }
            diagnoses.len()
        };

        let mut submitted = 0.0;
        for (index, item) in array_at(eob, "/item").iter().enumerate() {
            assert_eq!(item["sequence"], index + 1);
            str_at(item, "/productOrService/coding/0/code");
            str_at(item, "/productOrService/coding/0/system");
            assert!(item.get("servicedDate").is_some() || item.get("servicedPeriod").is_some());
            assert!(item["quantity"]["value"].is_number());
            let member = item["careTeamSequence"][0]
                .as_u64()
                .expect("a care team sequence");
            assert!((1..=care_team.len() as u64).contains(&member));
            if let Some(diagnosis) = item.get("diagnosisSequence") {
                assert!((1..=diagnoses as u64).contains(&diagnosis[0].as_u64().unwrap()));
            }
            let adjudications = array_at(item, "/adjudication");
            for adjudication in adjudications {
                str_at(adjudication, "/category/coding/0/code");
                assert!(adjudication["amount"]["value"].is_number());
                assert_eq!(adjudication["amount"]["currency"], "USD");
            }
            submitted += adjudications[0]["amount"]["value"].as_f64().unwrap();
        }
        let totals = array_at(eob, "/total");
        for total in totals {
            str_at(total, "/category/coding/0/code");
            assert_eq!(total["amount"]["currency"], "USD");
        }
        let total = totals[0]["amount"]["value"].as_f64().unwrap();
        assert!(
            (total - submitted).abs() < 0.01,
            "total {total} is the sum of item charges {submitted}"
        );
        assert_eq!(totals[1]["amount"], eob["payment"]["amount"]);
        eob_type
    }

    #[test]
    fn same_seed_and_id_give_identical_bytes() {
        let first = default_source();
        let second = default_source();
        let other_seed = source(SyntheticConfig {
            seed: 1,
            ..SyntheticConfig::default()
        });
        let mut differ = 0;
        for index in 0..50 {
            let beneficiary = beneficiary_id(index);
            let eobs = first.generate(&beneficiary).unwrap();
            assert_eq!(eobs, second.generate(&beneficiary).unwrap());
            assert_eq!(eobs, first.generate(&beneficiary).unwrap());
            if eobs != other_seed.generate(&beneficiary).unwrap() {
                differ += 1;
            }
        }
        // Only two beneficiaries without EOBs under both seeds could compare equal.
        assert!(differ >= 45, "{differ} of 50 differ");
    }

    #[test]
    fn full_eobs_are_valid_r4_shaped_like_bfd() {
        let source = default_source();
        let mut types = HashSet::new();
        for index in 0..300 {
            let beneficiary = beneficiary_id(index);
            for eob in source.generate(&beneficiary).unwrap() {
                assert!(!eob.as_str().contains('\n'));
                types.insert(check_full(&parse(&eob), &beneficiary));
            }
        }
        assert_eq!(types.len(), 8, "{types:?}");
    }

    #[test]
    fn thousand_beneficiaries_have_unique_ids_every_type_and_realistic_sizes() {
        let source = default_source();
        let mut ids = HashSet::new();
        let mut types = BTreeMap::new();
        let (mut eobs, mut bytes, mut smallest, mut largest) = (0usize, 0usize, usize::MAX, 0);
        for index in 0..1000 {
            for eob in source.generate(&beneficiary_id(index)).unwrap() {
                assert!(!eob.as_str().contains('\n'));
                let id = id_of(&eob).to_string();
                assert!(is_fhir_id(&id), "{id}");
                *types
                    .entry(id[..id.find('-').unwrap()].to_string())
                    .or_insert(0) += 1;
                assert!(ids.insert(id), "duplicate id");
                eobs += 1;
                bytes += eob.len();
                smallest = smallest.min(eob.len());
                largest = largest.max(eob.len());
            }
        }
        let expected: Vec<&str> = CLAIM_TYPES.iter().map(|claim| claim.prefix).collect();
        let mut seen: Vec<&str> = types.keys().map(String::as_str).collect();
        seen.sort_by_key(|prefix| expected.iter().position(|e| e == prefix));
        assert_eq!(seen, expected, "{types:?}");
        let mean = bytes / eobs;
        assert!(
            smallest >= 1024 && largest <= 80 * 1024,
            "sizes {smallest}..{largest}"
        );
        assert!((4 * 1024..=16 * 1024).contains(&mean), "mean size {mean}");
        let per_beneficiary = eobs as f64 / 1000.0;
        assert!(
            (per_beneficiary - 4.0).abs() < 0.3,
            "mean count {per_beneficiary}"
        );
    }

    #[test]
    fn mean_count_follows_the_configuration() {
        for mean in [0.0, 1.5, 10.0] {
            let source = source(SyntheticConfig {
                eobs_per_beneficiary: mean,
                ..SyntheticConfig::default()
            });
            let total: usize = (0..2000)
                .map(|i| source.eob_ids(&beneficiary_id(i)).len())
                .sum();
            let measured = total as f64 / 2000.0;
            assert!(
                (measured - mean).abs() <= 0.05 * mean.max(1.0) + 0.1,
                "{measured} vs {mean}"
            );
            let max = (0..2000)
                .map(|i| source.eob_ids(&beneficiary_id(i)).len())
                .max()
                .unwrap();
            assert_eq!(max, (2.0 * mean).round() as usize);
        }
    }

    #[test]
    fn eob_content_does_not_depend_on_the_count() {
        let four = default_source();
        let eight = source(SyntheticConfig {
            eobs_per_beneficiary: 8.0,
            ..SyntheticConfig::default()
        });
        for index in 0..50 {
            let beneficiary = beneficiary_id(index);
            let (a, b) = (
                four.generate(&beneficiary).unwrap(),
                eight.generate(&beneficiary).unwrap(),
            );
            let common = a.len().min(b.len());
            assert_eq!(a[..common], b[..common]);
        }
    }

    #[test]
    fn failure_rate_is_met_and_failures_are_errors() {
        let source = source(SyntheticConfig {
            failure_rate: 0.2,
            ..SyntheticConfig::default()
        });
        let healthy = default_source();
        let mut failed = 0;
        for index in 0..5000 {
            let beneficiary = beneficiary_id(index);
            if source.fails(&beneficiary) {
                failed += 1;
                let error = source.generate(&beneficiary).unwrap_err();
                assert_eq!(error.code, "exception");
                assert_eq!(
                    error.message,
                    format!("synthetic source: fetch of beneficiary {beneficiary} failed (injected failure)")
                );
                assert!(source.eob_ids(&beneficiary).is_empty());
            } else if index % 10 == 0 {
                // The failure draw changes nothing else.
                assert_eq!(
                    source.generate(&beneficiary),
                    healthy.generate(&beneficiary)
                );
            }
        }
        let rate = failed as f64 / 5000.0;
        assert!((rate - 0.2).abs() <= 0.03, "failure rate {rate}");

        let never = default_source();
        let always = self::source(SyntheticConfig {
            failure_rate: 1.0,
            ..SyntheticConfig::default()
        });
        for index in 0..200 {
            assert!(!never.fails(&beneficiary_id(index)));
            assert!(always.generate(&beneficiary_id(index)).is_err());
        }
    }

    #[test]
    fn small_eobs_are_one_valid_eob_under_one_kilobyte() {
        let source = source(SyntheticConfig {
            small_eobs: true,
            ..SyntheticConfig::default()
        });
        for index in 0..1000 {
            let beneficiary = beneficiary_id(index);
            let eobs = source.generate(&beneficiary).unwrap();
            assert_eq!(eobs.len(), 1);
            assert!(eobs[0].len() < 1024, "{} bytes", eobs[0].len());
            assert!(!eobs[0].as_str().contains('\n'));
            check_required(&parse(&eobs[0]), &beneficiary);
            assert_eq!(
                source.eob_ids(&beneficiary),
                vec![id_of(&eobs[0]).to_string()]
            );
        }
    }

    #[test]
    fn eob_ids_match_generate() {
        for config in [
            SyntheticConfig::default(),
            SyntheticConfig {
                seed: 7,
                eobs_per_beneficiary: 2.5,
                failure_rate: 0.3,
                ..SyntheticConfig::default()
            },
        ] {
            let source = source(config);
            for index in 0..300 {
                let beneficiary = beneficiary_id(index);
                let generated: Vec<String> = match source.generate(&beneficiary) {
                    Ok(eobs) => eobs.iter().map(|eob| id_of(eob).to_string()).collect(),
                    Err(_) => Vec::new(),
                };
                assert_eq!(source.eob_ids(&beneficiary), generated);
            }
        }
    }

    #[test]
    fn other_beneficiary_ids_are_escaped_and_give_valid_unique_ids() {
        let source = source(SyntheticConfig {
            eobs_per_beneficiary: 3.0,
            ..SyntheticConfig::default()
        });
        let odd = [
            "abc",
            "a\"b\\c\nd",
            "ünïcødé/…",
            "1234567890123456789012345678901234567890123456789",
            "-",
            "",
            "12",
            "-12",
            "012",
        ];
        let mut ids = HashSet::new();
        for beneficiary in odd {
            for eob in source.generate(beneficiary).unwrap() {
                assert!(!eob.as_str().contains('\n'));
                let value = parse(&eob);
                check_full(&value, beneficiary);
                let id = str_at(&value, "/id").to_string();
                assert!(is_fhir_id(&id), "{id}");
                assert!(ids.insert(id));
            }
        }
        assert_eq!(id_stem("12"), "12");
        assert_eq!(id_stem("-12"), "-12");
        assert_eq!(id_stem("012"), "012");
        for hashed in [
            "abc",
            "-",
            "",
            "1-2",
            "1234567890123456789012345678901234567890123456789",
        ] {
            let stem = id_stem(hashed);
            assert!(stem.starts_with('x') && stem.len() == 17, "{stem}");
        }
    }

    #[test]
    fn eob_ids_join_type_stem_and_index() {
        let carrier = &CLAIM_TYPES[0];
        assert_eq!(eob_id(carrier, "-12", 0), "carrier--12-0");
        assert_eq!(eob_id(carrier, "-12", 907), "carrier--12-907");
        assert_eq!(
            eob_id(&CLAIM_TYPES[7], "x0a", u32::MAX),
            "pde-x0a-4294967295"
        );
    }

    #[test]
    fn beneficiary_ids_look_like_bfd_synthetic_ones() {
        assert_eq!(beneficiary_id(0), "-19990000000000");
        assert_eq!(beneficiary_id(42), "-19990000000042");
        assert_eq!(beneficiary_id(1_000_000), "-19990001000000");
    }

    #[test]
    fn calendar_conversions_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2015, 1, 1), 16_436);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(
            civil_from_days(days_from_civil(2024, 2, 29) + 1),
            (2024, 3, 1)
        );
        let mut previous = civil_from_days(days_from_civil(1899, 12, 31));
        for day in days_from_civil(1900, 1, 1)..days_from_civil(2101, 1, 1) {
            let date = civil_from_days(day);
            assert_eq!(
                days_from_civil(date.0, i64::from(date.1), i64::from(date.2)),
                day
            );
            assert!(date > previous);
            previous = date;
        }
    }

    #[test]
    fn stamps_and_amounts_are_formatted_as_fhir_expects() {
        let stamp = Stamp::new(days_from_civil(2021, 7, 4), 3600 + 2 * 60 + 3, Some(7));
        assert_eq!(
            serde_json::to_string(&stamp).unwrap(),
            "\"2021-07-04T01:02:03.007+00:00\""
        );
        let stamp = Stamp::new(days_from_civil(2021, 7, 4), 86_399, None);
        assert_eq!(
            serde_json::to_string(&stamp).unwrap(),
            "\"2021-07-04T23:59:59+00:00\""
        );
        assert_eq!(
            serde_json::to_string(&Money::usd(12_345)).unwrap(),
            r#"{"value":123.45,"currency":"USD"}"#
        );
        // Outside the table of dates, the same text is made on the spot.
        for day in [days_from_civil(2014, 12, 31), LAST_DAY + 1] {
            let stamp = Stamp::new(day, 0, None);
            let (year, month, day) = civil_from_days(day);
            assert_eq!(
                serde_json::to_string(&stamp).unwrap(),
                format!("\"{year:04}-{month:02}-{day:02}T00:00:00+00:00\"")
            );
        }
    }

    #[test]
    fn the_table_of_dates_holds_every_day_an_eob_names() {
        let longest_span = CLAIM_TYPES.iter().map(|claim| claim.max_span_days).max();
        // Period end, then `created` up to 45 days later, `lastUpdated` up to 30.
        assert_eq!(LAST_START_DAY + longest_span.unwrap() + 45 + 30, LAST_DAY);
        for day in FIRST_DAY..=LAST_DAY {
            let (year, month, date) = civil_from_days(day);
            assert!(matches!(date_str(day), Cow::Borrowed(_)));
            assert_eq!(date_str(day), format!("{year:04}-{month:02}-{date:02}"));
        }
    }

    #[test]
    fn fixed_values_are_written_as_serde_json_writes_them() {
        let fixed = &CLAIM_TYPES[2].full_type;
        let expected = serde_json::to_string(&fixed.value).unwrap();
        assert_eq!(serde_json::to_string(fixed).unwrap(), expected);
        assert_eq!(serde_json::to_string(fixed).unwrap(), expected, "cached");
        let line = serde_json::to_string(&Item {
            revenue: Some(&REVENUE_CENTERS[0]),
            ..Item::new(1, [1], Product::Listed(&DRUGS[0]), None)
        })
        .unwrap();
        assert!(line.contains(concat!(
            r#""revenue":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/rev_cntr","code":"0001"},"#,
            r#"{"system":"https://www.nubc.org/CodeSystem/RevenueCodes","code":"0001"}]},"#,
            r#""productOrService":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"67877022305","display":"Gabapentin - GABAPENTIN"}]}"#
        )), "{line}");
    }

    #[actix_rt::test]
    async fn fetch_equals_generate() {
        let source = default_source();
        for index in 0..20 {
            let beneficiary = beneficiary_id(index);
            assert_eq!(
                source.fetch(&beneficiary).await,
                source.generate(&beneficiary)
            );
        }
        let slow = self::source(SyntheticConfig {
            latency: Duration::from_millis(20),
            failure_rate: 0.5,
            ..SyntheticConfig::default()
        });
        let started = Instant::now();
        let beneficiary = beneficiary_id(3);
        assert_eq!(slow.fetch(&beneficiary).await, slow.generate(&beneficiary));
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
