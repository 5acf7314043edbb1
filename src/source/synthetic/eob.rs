//! Drawing one EOB: a small one, or a full one shaped like BFD's v2 samples.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::claim_types::{ClaimType, Family, Kind};
use super::dates::{Date, Period, Stamp, FIRST_DAY, LAST_START_DAY};
use super::model::*;
use super::short::Short;
use super::vocabulary::*;

/// The dates every EOB has, drawn in this order (the order is part of the
/// output: the same seed must give the same claims), right after the claim
/// type, so that an EOB `since` leaves out costs only these draws.
pub(super) struct Dates {
    start: i64,
    end: i64,
    created: Stamp,
    pub(super) updated: Stamp,
}

impl Dates {
    pub(super) fn draw(claim: &ClaimType, rng: &mut ChaCha8Rng) -> Self {
        let start = rng.gen_range(FIRST_DAY..=LAST_START_DAY);
        let end = start + rng.gen_range(0..=claim.max_span_days);
        let created = Stamp::new(end + rng.gen_range(1..=45), rng.gen_range(0..86_400), None);
        let updated = Stamp::new(
            created.day + rng.gen_range(0..=30),
            rng.gen_range(0..86_400),
            Some(rng.gen_range(0..1000)),
        );
        Dates {
            start,
            end,
            created,
            updated,
        }
    }
}

/// A minimal but valid EOB: every element FHIR R4 requires, plus
/// `meta.lastUpdated`, the billable period and the payment.
pub(super) fn small_eob<'a>(
    claim: &'static ClaimType,
    id: &'a str,
    beneficiary: &'a str,
    dates: Dates,
    rng: &mut ChaCha8Rng,
) -> Eob<'a> {
    let Dates {
        start,
        end,
        created,
        updated,
    } = dates;
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
pub(super) fn full_eob<'a>(
    claim: &'static ClaimType,
    id: &'a str,
    beneficiary: &'a str,
    dates: Dates,
    rng: &mut ChaCha8Rng,
) -> Eob<'a> {
    let Dates {
        start,
        end,
        created,
        updated,
    } = dates;

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
        .map(|(kind, sequence)| SupportingInfo {
            sequence,
            category: &kind.category,
            detail: match kind.value {
                InfoValue::Code(codes) => InfoDetail::Code(pick(codes, rng)),
                InfoValue::DateAfterPeriod => {
                    InfoDetail::TimingDate(Date(end + rng.gen_range(1..=14)))
                }
                InfoValue::Period => InfoDetail::TimingPeriod(Period::days(start, end)),
            },
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

pub(super) fn pick_str(table: &[&'static str], rng: &mut ChaCha8Rng) -> &'static str {
    table[rng.gen_range(0..table.len())]
}

pub(super) fn pick<'t, T>(table: &'t [T], rng: &mut ChaCha8Rng) -> &'t T {
    &table[rng.gen_range(0..table.len())]
}
