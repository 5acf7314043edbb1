//! The shapes of an ExplanationOfBenefit and its parts, as serde serialises them.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::dates::{Date, Period, Stamp};
use super::fixed::Fixed;
use super::short::Short;

/// An ExplanationOfBenefit. Its own members are written by
/// [`write_json`](Self::write_json), not derived; the constant ones
/// (`resourceType`, `status`, `use`, `outcome`) are not even fields.
pub(super) struct Eob<'a> {
    pub(super) id: &'a str,
    pub(super) meta: Meta,
    pub(super) contained: Option<[Organization; 1]>,
    pub(super) identifier: Option<[Identifier<'a>; 2]>,
    pub(super) type_: &'static Fixed<Concept>,
    pub(super) patient: Reference<'a>,
    pub(super) billable_period: Period,
    pub(super) created: Stamp,
    pub(super) insurer: &'static Fixed<Insurer>,
    pub(super) provider: Provider,
    pub(super) facility: Option<&'static Fixed<Facility>>,
    pub(super) care_team: Vec<CareTeam>,
    pub(super) supporting_info: Vec<SupportingInfo>,
    pub(super) diagnosis: Vec<Diagnosis>,
    pub(super) procedure: Vec<Procedure>,
    pub(super) insurance: [Insurance<'a>; 1],
    pub(super) item: Vec<Item>,
    pub(super) total: Option<[Total; 2]>,
    pub(super) payment: Payment,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Meta {
    pub(super) last_updated: Stamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) profile: Option<&'static Fixed<[&'static str; 1]>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Organization {
    pub(super) resource_type: &'static str,
    pub(super) id: &'static str,
    pub(super) meta: &'static Fixed<OrganizationMeta>,
    pub(super) identifier: [OrgIdentifier; 2],
    pub(super) active: bool,
}

#[derive(Serialize)]
pub(super) struct OrganizationMeta {
    pub(super) profile: [&'static str; 1],
}

#[derive(Serialize)]
pub(super) struct OrgIdentifier {
    #[serde(rename = "type")]
    pub(super) type_: &'static Fixed<Concept>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) system: Option<&'static str>,
    pub(super) value: Short,
}

#[derive(Serialize)]
pub(super) struct Identifier<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) type_: Option<&'static Fixed<Concept>>,
    pub(super) system: &'static str,
    pub(super) value: IdValue<'a>,
}

pub(super) enum IdValue<'a> {
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
pub(super) struct Reference<'a> {
    reference: Joined<'a>,
}

impl<'a> Reference<'a> {
    pub(super) fn to(head: &'static str, tail: &'a str) -> Self {
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
pub(super) struct Insurance<'a> {
    focal: bool,
    coverage: Reference<'a>,
}

impl<'a> Insurance<'a> {
    pub(super) fn focal(coverage: &'static str, beneficiary: &'a str) -> Self {
        Insurance {
            focal: true,
            coverage: Reference::to(coverage, beneficiary),
        }
    }
}

#[derive(Serialize)]
pub(super) struct Insurer {
    pub(super) identifier: InsurerIdentifier,
}

#[derive(Serialize)]
pub(super) struct InsurerIdentifier {
    pub(super) value: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Provider {
    Contained(LocalRef),
    Npi(NpiRef),
}

#[derive(Serialize)]
pub(super) struct LocalRef {
    pub(super) reference: &'static str,
}

#[derive(Serialize)]
pub(super) struct NpiRef {
    identifier: NpiIdentifier,
}

impl NpiRef {
    pub(super) fn new(
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
pub(super) struct Facility {
    pub(super) extension: [Extension; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Extension {
    pub(super) url: &'static str,
    pub(super) value_coding: Coding,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CareTeam {
    pub(super) sequence: u32,
    pub(super) provider: NpiRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) responsible: Option<bool>,
    pub(super) role: &'static Fixed<Concept>,
}

pub(super) struct SupportingInfo {
    pub(super) sequence: u32,
    pub(super) category: &'static Fixed<Concept>,
    pub(super) detail: InfoDetail,
}

/// The one thing a `supportingInfo` carries besides its category: an enum,
/// so that `timing[x]` can only ever take one type.
pub(super) enum InfoDetail {
    Code(&'static Fixed<Concept>),
    TimingDate(Date),
    TimingPeriod(Period),
}

impl Serialize for SupportingInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut info = serializer.serialize_struct("SupportingInfo", 3)?;
        info.serialize_field("sequence", &self.sequence)?;
        info.serialize_field("category", self.category)?;
        match &self.detail {
            InfoDetail::Code(code) => info.serialize_field("code", code)?,
            InfoDetail::TimingDate(date) => info.serialize_field("timingDate", date)?,
            InfoDetail::TimingPeriod(period) => info.serialize_field("timingPeriod", period)?,
        }
        info.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Diagnosis {
    pub(super) sequence: u32,
    pub(super) diagnosis_codeable_concept: Concept,
    #[serde(rename = "type")]
    pub(super) type_: [&'static Fixed<Concept>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Procedure {
    pub(super) sequence: u32,
    pub(super) date: Stamp,
    pub(super) procedure_codeable_concept: Concept,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Item {
    pub(super) sequence: u32,
    pub(super) care_team_sequence: [u32; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) diagnosis_sequence: Option<[u32; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) category: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) revenue: Option<&'static Fixed<Concept>>,
    pub(super) product_or_service: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) modifier: Option<[&'static Fixed<Concept>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) serviced_date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) serviced_period: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) location_codeable_concept: Option<&'static Fixed<Concept>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) location_address: Option<Address>,
    pub(super) quantity: Quantity,
    pub(super) adjudication: Vec<Adjudication>,
}

/// A line's product or service: a drawn code or a listed drug.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Product {
    Drawn(Concept),
    Listed(&'static Fixed<Concept>),
}

#[derive(Serialize)]
pub(super) struct Address {
    pub(super) state: &'static str,
}

#[derive(Serialize)]
pub(super) struct Quantity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) extension: Option<[QuantityExtension; 2]>,
    pub(super) value: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QuantityExtension {
    pub(super) url: &'static str,
    pub(super) value_quantity: SimpleQuantity,
}

#[derive(Serialize)]
pub(super) struct SimpleQuantity {
    pub(super) value: u32,
}

#[derive(Serialize)]
pub(super) struct Adjudication {
    pub(super) category: &'static Fixed<Concept>,
    pub(super) amount: Money,
}

#[derive(Serialize)]
pub(super) struct Total {
    pub(super) category: &'static Fixed<Concept>,
    pub(super) amount: Money,
}

#[derive(Serialize)]
pub(super) struct Payment {
    pub(super) amount: Money,
}

#[derive(Serialize)]
pub(super) struct Money {
    value: Cents,
    currency: &'static str,
}

impl Money {
    pub(super) fn usd(cents: i64) -> Self {
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

/// Text that is either fixed or a random code built inline.
#[derive(Clone, Copy)]
pub(super) enum Text {
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
pub(super) struct Coding {
    system: &'static str,
    code: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'static str>,
}

impl Coding {
    pub(super) const fn fixed(
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

    pub(super) const fn new(
        system: &'static str,
        code: Text,
        display: Option<&'static str>,
    ) -> Self {
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
pub(super) struct Concept {
    coding: Codings,
}

impl Concept {
    pub(super) const fn fixed(coding: &'static [Coding]) -> Self {
        Concept {
            coding: Codings::Fixed(coding),
        }
    }

    pub(super) fn one(coding: Coding) -> Self {
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
