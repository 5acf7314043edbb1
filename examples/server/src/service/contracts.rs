//! The contracts the service knows, each with its beneficiaries: an export of
//! an unknown Group is a 404, never a job. `--contract ID` serves the
//! `--beneficiaries` generated ids; `--contract ID=FIRST..END` the generated ids
//! FIRST to END-1, so that contracts can hold different beneficiaries.

use std::ops::Range;
use std::str::FromStr;

use claims_aggregator::synthetic;

/// One `--contract` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSpec {
    /// The contract number (the Group id, and the prefix of output names).
    pub id: String,
    /// Indices of its generated beneficiaries; `None`: `0..--beneficiaries`.
    pub beneficiaries: Option<Range<u64>>,
}

impl FromStr for ContractSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (id, range) = match spec.split_once('=') {
            None => (spec, None),
            Some((id, range)) => {
                let parsed = range.split_once("..").and_then(|(first, end)| {
                    Some(first.parse::<u64>().ok()?..end.parse::<u64>().ok()?)
                });
                match parsed {
                    Some(range) if range.start < range.end => (id, Some(range)),
                    _ => {
                        return Err(format!(
                            "{range:?} is not a range FIRST..END of beneficiaries with FIRST < END"
                        ))
                    }
                }
            }
        };
        if id.is_empty() {
            return Err("the contract id is empty".into());
        }
        Ok(ContractSpec {
            id: id.to_owned(),
            beneficiaries: range,
        })
    }
}

/// A contract the service serves.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The contract number.
    pub id: String,
    /// Indices of its generated beneficiaries.
    pub beneficiaries: Range<u64>,
}

impl Contract {
    /// The contracts of the flags, or the default one; `default_count` is
    /// `--beneficiaries`. A contract named twice is refused.
    pub fn from_specs(
        specs: &[ContractSpec],
        default_id: &str,
        default_count: u64,
    ) -> Result<Vec<Contract>, String> {
        let default = [ContractSpec {
            id: default_id.to_owned(),
            beneficiaries: None,
        }];
        let specs = if specs.is_empty() {
            &default[..]
        } else {
            specs
        };
        let mut contracts: Vec<Contract> = Vec::new();
        for spec in specs {
            if contracts.iter().any(|c| c.id == spec.id) {
                return Err(format!("--contract {} is given twice", spec.id));
            }
            contracts.push(Contract {
                id: spec.id.clone(),
                beneficiaries: spec.beneficiaries.clone().unwrap_or(0..default_count),
            });
        }
        Ok(contracts)
    }

    /// The beneficiary ids of a job of this contract.
    pub fn beneficiary_ids(&self) -> impl Iterator<Item = String> + Send + 'static {
        self.beneficiaries.clone().map(synthetic::beneficiary_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_a_range() {
        assert_eq!(
            "Z0001".parse(),
            Ok(ContractSpec {
                id: "Z0001".into(),
                beneficiaries: None
            })
        );
        assert_eq!(
            "Z0002=10..20".parse(),
            Ok(ContractSpec {
                id: "Z0002".into(),
                beneficiaries: Some(10..20)
            })
        );
        for bad in [
            "", "=1..2", "Z1=", "Z1=5..5", "Z1=9..2", "Z1=1-2", "Z1=a..b",
        ] {
            assert!(bad.parse::<ContractSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_contract_takes_the_beneficiary_count() {
        let contracts = Contract::from_specs(&[], "Z9000", 85).unwrap();
        assert_eq!(contracts.len(), 1);
        assert_eq!(contracts[0].id, "Z9000");
        assert_eq!(contracts[0].beneficiary_ids().count(), 85);
        let twice = ["A".parse().unwrap(), "A=1..3".parse().unwrap()];
        assert!(Contract::from_specs(&twice, "Z9000", 85).is_err());
    }
}
