//! Code systems and the fixed vocabulary the EOBs draw from, each value a
//! `static` [`Fixed`] so that its JSON text is made once.

use super::fixed::Fixed;
use super::model::{
    Coding, Concept, Extension, Facility, Insurer, InsurerIdentifier, OrganizationMeta,
};

/// A kind of `supportingInfo`: its category and what it carries.
pub(super) struct InfoKind {
    pub(super) category: Fixed<Concept>,
    pub(super) value: InfoValue,
}

/// What a `supportingInfo` carries besides its category: exactly one of
/// `code`, `timingDate` and `timingPeriod`, since FHIR's `timing[x]` takes one
/// type and a code with a timing would be a different kind of information.
pub(super) enum InfoValue {
    /// A `code` drawn from these (never empty, nor any of their codes).
    Code(&'static [Fixed<Concept>]),
    /// A `timingDate` a few days after the billable period ends.
    DateAfterPeriod,
    /// The billable period as `timingPeriod` (an admission).
    Period,
}

/// A supporting-information category with the values its code takes. The
/// values are a named `static` because a `Fixed` caches its text, and a
/// reference to such a value cannot be a promoted temporary.
macro_rules! info {
    ($system:expr, $code:literal, $display:literal, $variable:literal, $variable_display:literal, [$(($value:literal, $value_display:literal)),+ $(,)?]) => {
        InfoKind {
            category: Fixed::new(Concept::fixed(&[
                Coding::fixed($system, $code, Some($display)),
                Coding::fixed(BB_INFORMATION, bb_var!($variable), Some($variable_display)),
            ])),
            value: InfoValue::Code({
                static CODES: [Fixed<Concept>; <[&str]>::len(&[$($value),*])] =
                    [$(concept!(bb_var!($variable), $value, $value_display)),*];
                &CODES
            }),
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

pub(super) const HL7_ADJUDICATION: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
pub(super) const C4BB_ADJUDICATION: &str =
    "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication";
pub(super) const BB_ADJUDICATION: &str =
    "https://bluebutton.cms.gov/resources/codesystem/adjudication";
const BB_INFORMATION: &str = "https://bluebutton.cms.gov/resources/codesystem/information";
const HL7_INFO_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/claiminformationcategory";
const C4BB_SUPPORTING_INFO: &str =
    "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBSupportingInfoType";
const C4BB_IDENTIFIER: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType";
const C4BB_ROLE: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimCareTeamRole";
const C4BB_DIAGNOSIS: &str = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBClaimDiagnosisType";
const HL7_DIAGNOSIS: &str = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype";
pub(super) const EOB_TYPE: &str = "https://bluebutton.cms.gov/resources/codesystem/eob-type";
pub(super) const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
pub(super) const NCH_CLAIM_TYPE: &str = bb_var!("nch_clm_type_cd");
pub(super) const CLAIM_GROUP: &str = "https://bluebutton.cms.gov/resources/identifier/claim-group";
pub(super) const NPI: &str = "http://hl7.org/fhir/sid/us-npi";
pub(super) const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
pub(super) const ICD10_PCS: &str = "http://www.cms.gov/Medicare/Coding/ICD10";
pub(super) const HCPCS: &str = "https://bluebutton.cms.gov/resources/codesystem/hcpcs";
const NDC: &str = "http://hl7.org/fhir/sid/ndc";
const REV_CNTR: &str = bb_var!("rev_cntr");
const NUBC_REVENUE: &str = "https://www.nubc.org/CodeSystem/RevenueCodes";

pub(super) static INSURER: Fixed<Insurer> = Fixed::new(Insurer {
    identifier: InsurerIdentifier { value: "CMS" },
});

pub(super) static ORGANIZATION_META: Fixed<OrganizationMeta> = Fixed::new(OrganizationMeta {
    profile: [concat!(
        "http://hl7.org/fhir/us/carin-bb/StructureDefinition/",
        "C4BB-Organization"
    )],
});

pub(super) static ID_TYPE_PRN: Fixed<Concept> = concept!(
    "http://terminology.hl7.org/CodeSystem/v2-0203",
    "PRN",
    "Provider number"
);
pub(super) static ID_TYPE_NPI: Fixed<Concept> =
    concept!(C4BB_IDENTIFIER, "npi", "National Provider Identifier");
pub(super) static ID_TYPE_UNIQUE_CLAIM: Fixed<Concept> =
    concept!(C4BB_IDENTIFIER, "uc", "Unique Claim ID");

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

pub(super) static FACILITY_HOSPITAL: Fixed<Facility> = facility!("1", "Hospital");
pub(super) static FACILITY_SNF: Fixed<Facility> = facility!("2", "Skilled nursing facility (SNF)");
pub(super) static FACILITY_HHA: Fixed<Facility> = facility!("3", "Home Health Agency (HHA)");
pub(super) static FACILITY_HOSPICE: Fixed<Facility> = facility!(
    "8",
    "Special facility or Ambulatory Surgical Center (ASC) surgery"
);

pub(super) static PROFESSIONAL_ROLES: [Fixed<Concept>; 3] = [
    concept!(C4BB_ROLE, "performing", "Performing provider"),
    concept!(C4BB_ROLE, "referring", "Referring"),
    concept!(C4BB_ROLE, "supervising", "Supervising"),
];
pub(super) static INSTITUTIONAL_ROLES: [Fixed<Concept>; 4] = [
    concept!(C4BB_ROLE, "attending", "Attending"),
    concept!(C4BB_ROLE, "operating", "Operating"),
    concept!(C4BB_ROLE, "otheroperating", "Other Operating"),
    concept!(C4BB_ROLE, "rendering", "Rendering provider"),
];
pub(super) static PHARMACY_ROLES: [Fixed<Concept>; 1] =
    [concept!(C4BB_ROLE, "prescribing", "Prescribing provider")];

pub(super) static DIAG_PRINCIPAL: Fixed<Concept> =
    concept!(HL7_DIAGNOSIS, "principal", "Principal Diagnosis");
pub(super) static DIAG_ADMITTING: Fixed<Concept> =
    concept!(HL7_DIAGNOSIS, "admitting", "Admitting Diagnosis");
pub(super) static DIAG_SECONDARY: Fixed<Concept> =
    concept!(C4BB_DIAGNOSIS, "secondary", "Secondary");
pub(super) static DIAG_OTHER: Fixed<Concept> = concept!(C4BB_DIAGNOSIS, "other", "Other");

pub(super) static TOTAL_SUBMITTED: Fixed<Concept> = Fixed::new(Concept::fixed(&[
    Coding::fixed(HL7_ADJUDICATION, "submitted", Some("Submitted Amount")),
    Coding::fixed(
        BB_ADJUDICATION,
        bb_var!("clm_tot_chrg_amt"),
        Some("Claim Total Charge Amount"),
    ),
]));
pub(super) static TOTAL_BENEFIT: Fixed<Concept> = Fixed::new(Concept::fixed(&[
    Coding::fixed(HL7_ADJUDICATION, "benefit", Some("Benefit Amount")),
    Coding::fixed(
        BB_ADJUDICATION,
        bb_var!("clm_pmt_amt"),
        Some("Claim Payment Amount"),
    ),
]));

/// Claim received date: a `timingDate`, no code. A macro, not a `const`: a
/// `Fixed` holds its cache, so each table gets its own copy.
macro_rules! received {
    () => {
        InfoKind {
            category: Fixed::new(Concept::fixed(&[
                Coding::fixed(
                    C4BB_SUPPORTING_INFO,
                    "clmrecvddate",
                    Some("Claim Received Date"),
                ),
                Coding::fixed(
                    BB_INFORMATION,
                    bb_var!("nch_wkly_proc_dt"),
                    Some("NCH Weekly Claim Processing Date"),
                ),
            ])),
            value: InfoValue::DateAfterPeriod,
        }
    };
}

pub(super) static PROFESSIONAL_INFO: [InfoKind; 5] = [
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

pub(super) static DME_INFO: [InfoKind; 4] = [
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

pub(super) static INSTITUTIONAL_INFO: [InfoKind; 6] = [
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
    ]),
    info!(HL7_INFO_CATEGORY, "info", "Information", "clm_mco_pd_sw", "Claim MCO Paid Switch", [
        ("0", "No managed care organization (MCO) payment"),
        ("1", "MCO paid the provider for the claim"),
    ]),
];

pub(super) static INPATIENT_INFO: [InfoKind; 8] = [
    received!(),
    InfoKind {
        category: concept!(C4BB_SUPPORTING_INFO, "admissionperiod", "Admission Period"),
        value: InfoValue::Period,
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

pub(super) static PHARMACY_INFO: [InfoKind; 8] = [
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

pub(super) static SERVICE_TYPES: [Fixed<Concept>; 4] = [
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

pub(super) static PLACES_OF_SERVICE: [Fixed<Concept>; 5] = [
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

pub(super) static REVENUE_CENTERS: [Fixed<Concept>; 12] = revenue!(
    "0001", "0120", "0250", "0270", "0300", "0320", "0450", "0636", "0730", "0420", "0023", "0651",
);

pub(super) static MODIFIERS: [Fixed<Concept>; 8] = [
    concept!(HCPCS, "LT"),
    concept!(HCPCS, "RT"),
    concept!(HCPCS, "25"),
    concept!(HCPCS, "59"),
    concept!(HCPCS, "KO"),
    concept!(HCPCS, "GP"),
    concept!(HCPCS, "TC"),
    concept!(HCPCS, "26"),
];

pub(super) static STATES: [&str; 20] = [
    "AL", "AZ", "CA", "CO", "CT", "FL", "GA", "IA", "IL", "KY", "MA", "MD", "MI", "NY", "OH", "PA",
    "TX", "UT", "VA", "WA",
];

pub(super) static DRUGS: [Fixed<Concept>; 10] = [
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
