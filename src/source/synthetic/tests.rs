//! What the generated EOBs promise: valid R4 shaped like BFD's, deterministic,
//! unique ids, the configured counts and failure rate.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use super::claim_types::CLAIM_TYPES;
use super::ids::id_stem;
use super::vocabulary::{CLAIM_GROUP, CLAIM_TYPE, EOB_TYPE};
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
fn beneficiary_ids_look_like_bfd_synthetic_ones() {
    assert_eq!(beneficiary_id(0), "-19990000000000");
    assert_eq!(beneficiary_id(42), "-19990000000042");
    assert_eq!(beneficiary_id(1_000_000), "-19990001000000");
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

/// `meta.lastUpdated` of an EOB, as an instant.
fn last_updated(eob: &Resource) -> SystemTime {
    let text = str_at(&parse(eob), "/meta/lastUpdated").to_owned();
    crate::source::parse_since(&text).expect("lastUpdated is an instant")
}

#[test]
fn since_keeps_exactly_the_eobs_updated_at_or_after_it_byte_for_byte() {
    for (small_eobs, failure_rate) in [(false, 0.0), (false, 0.2), (true, 0.0)] {
        let all = source(SyntheticConfig {
            small_eobs,
            failure_rate,
            ..SyntheticConfig::default()
        });
        for since in ["2024-01-01", "2019-07-01T12:00:00.000-05:00", "2030-01-01"] {
            let at = crate::source::parse_since(since).unwrap();
            let recent = source(SyntheticConfig {
                since: Some(at),
                ..all.config().clone()
            });
            let (mut kept, mut left_out) = (0, 0);
            for index in 0..300 {
                let beneficiary = beneficiary_id(index);
                let Ok(every) = all.generate(&beneficiary) else {
                    assert!(recent.generate(&beneficiary).is_err());
                    assert!(recent.eob_ids(&beneficiary).is_empty());
                    continue;
                };
                let expected: Vec<Resource> = every
                    .iter()
                    .filter(|eob| last_updated(eob) >= at)
                    .cloned()
                    .collect();
                let got = recent.generate(&beneficiary).unwrap();
                assert_eq!(got, expected, "{beneficiary} since {since}");
                let ids: Vec<String> = got.iter().map(|eob| id_of(eob).to_owned()).collect();
                assert_eq!(recent.eob_ids(&beneficiary), ids);
                kept += got.len();
                left_out += every.len() - got.len();
            }
            if since == "2030-01-01" {
                assert_eq!(kept, 0, "nothing is updated after 2025");
            } else {
                assert!(
                    kept > 0 && left_out > 0,
                    "{since}: {kept} kept, {left_out} left out"
                );
            }
        }
    }
}

#[test]
fn since_compares_instants_to_the_nanosecond_whatever_the_offset() {
    let all = default_source();
    let eob = (0..20)
        .flat_map(|index| all.generate(&beneficiary_id(index)).unwrap())
        .next()
        .expect("an EOB");
    let updated = last_updated(&eob);
    let text = str_at(&parse(&eob), "/meta/lastUpdated").to_owned();
    let beneficiary = str_at(&parse(&eob), "/patient/reference")["Patient/".len()..].to_owned();
    let keeps = |since: SystemTime| {
        let filtered = source(SyntheticConfig {
            since: Some(since),
            ..SyntheticConfig::default()
        });
        filtered.generate(&beneficiary).unwrap().contains(&eob)
    };
    assert!(keeps(updated), "at {text} exactly");
    assert!(keeps(updated - Duration::from_nanos(1)));
    assert!(
        !keeps(updated + Duration::from_nanos(1)),
        "1 ns after {text}"
    );
    // The same instant seen from New York (UTC−5) and from Kiribati (UTC+14).
    let utc = time::OffsetDateTime::from(updated);
    for hours in [-5, 14] {
        let offset = time::UtcOffset::from_hms(hours, 0, 0).unwrap();
        let local = utc
            .to_offset(offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let since = crate::source::parse_since(&local).unwrap();
        assert_eq!(since, updated, "{local}");
        assert!(keeps(since), "{local}");
    }
}
