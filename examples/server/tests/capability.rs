//! What the service says of itself: `GET /metadata` is a FHIR R4
//! CapabilityStatement that instantiates the Bulk Data IG's; an open service
//! has no SMART configuration. (With clients, the security part is checked in
//! auth_tests.)

mod common;

use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use common::*;

#[actix::test]
async fn metadata_is_a_bulk_data_capability_statement() {
    let root = tempfile::tempdir().unwrap();
    let base = serve(service::Exports::start(settings(root.path(), &[])).unwrap());
    let response = client()
        .get(format!("{base}/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let statement: Value = json(response).await;
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    assert_eq!(statement["kind"], "instance");
    assert_eq!(
        statement["instantiates"][0],
        "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
    );
    assert_eq!(statement["software"]["version"], env!("CARGO_PKG_VERSION"));
    let rest = &statement["rest"][0];
    assert_eq!(
        rest["operation"][0]["definition"],
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    );
    let resource = |kind: &str| -> Value {
        rest["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no resource {kind}: {statement}"))
    };
    assert_eq!(
        resource("Patient")["operation"][0]["definition"],
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
    );
    assert_eq!(
        resource("Patient")["searchParam"][0]["name"],
        "_lastUpdated"
    );
    assert_eq!(
        resource("Group")["operation"][0]["definition"],
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
    );
    resource("ExplanationOfBenefit");
    assert!(rest.get("security").is_none(), "open: no security service");

    let smart = client()
        .get(format!("{base}/.well-known/smart-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(smart.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(smart).await["resourceType"], "OperationOutcome");
}
