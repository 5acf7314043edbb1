//! Drawing a full EOB's lines (items) and their amounts.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::claim_types::{ClaimType, Family, Role};
use super::dates::{Date, Period};
use super::eob::{pick, pick_str};
use super::fixed::Fixed;
use super::model::*;
use super::short::Short;
use super::vocabulary::*;

/// One line with the amounts the claim totals add up.
pub(super) struct Line {
    pub(super) item: Item,
    pub(super) submitted: i64,
    pub(super) paid: i64,
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
    pub(super) fn draw(
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
    pub(super) fn new(
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
