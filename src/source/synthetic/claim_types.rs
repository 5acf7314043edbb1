//! The eight claim types and what their EOBs look like, with the adjudication
//! categories of their lines.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fixed::Fixed;
use super::model::{Coding, Concept, Facility};
use super::vocabulary::*;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) enum Family {
    Professional,
    Institutional,
    Pharmacy,
}

/// What a claim type's EOBs look like.
pub(super) struct ClaimType {
    pub(super) kind: Kind,
    pub(super) family: Family,
    /// Lower-case id prefix, as BFD's (`carrier-…`, `pde-…`).
    pub(super) prefix: &'static str,
    /// Share of EOBs of this type, in percent (the shares add up to 100).
    pub(super) weight: u32,
    /// `type` of full EOBs: NCH claim type (not for drug events), BFD EOB type,
    /// HL7 claim type.
    pub(super) full_type: Fixed<Concept>,
    /// `type` of small EOBs: BFD EOB type and HL7 claim type only.
    pub(super) small_type: Fixed<Concept>,
    pub(super) profile: Fixed<[&'static str; 1]>,
    pub(super) claim_id_system: &'static str,
    /// Coverage reference prefix, completed by the beneficiary id.
    pub(super) coverage: &'static str,
    pub(super) facility: Option<&'static Fixed<Facility>>,
    pub(super) max_span_days: i64,
    /// Items are `1 + floor(extra_items × u²)` for uniform `u`: mostly few,
    /// sometimes many.
    pub(super) extra_items: u32,
    pub(super) roles: &'static [Fixed<Concept>],
    pub(super) info: &'static [InfoKind],
    pub(super) adjudications: &'static [AdjudicationKind],
}

impl ClaimType {
    pub(super) fn draw(rng: &mut ChaCha8Rng) -> &'static ClaimType {
        let mut draw = rng.gen_range(0..100);
        for claim in &CLAIM_TYPES {
            if draw < claim.weight {
                return claim;
            }
            draw -= claim.weight;
        }
        &CLAIM_TYPES[0]
    }

    pub(super) fn items(&self, rng: &mut ChaCha8Rng) -> u32 {
        let u: f64 = rng.gen();
        1 + (f64::from(self.extra_items) * u * u) as u32
    }
}

#[derive(Clone, Copy)]
pub(super) enum Role {
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

pub(super) struct AdjudicationKind {
    pub(super) category: Fixed<Concept>,
    pub(super) role: Role,
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

pub(super) static CLAIM_TYPES: [ClaimType; 8] = [
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
