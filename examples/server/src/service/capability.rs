//! What the service says of itself, for clients to discover before they
//! export: `GET /metadata` (a FHIR R4 CapabilityStatement instantiating the
//! Bulk Data IG's) and, when clients are registered, `GET
//! /.well-known/smart-configuration` (SMART Backend Services: where the token
//! endpoint is and what it takes). Neither needs a token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::auth::{SCOPES, SIGNING_ALGORITHMS, TOKEN_PATH};
use super::exports::Exports;
use super::kickoff::EXPORTED_TYPE;
use super::outcome::{outcome, FHIR_JSON};

/// The Bulk Data IG's CapabilityStatement that this one instantiates.
const BULK_DATA_CAPABILITY: &str = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data";
/// Canonical URL of the `$export` operation definitions, by level.
const EXPORT_OPERATIONS: [(&str, &str); 3] = [
    (
        "export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
    ),
    (
        "patient-export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
    ),
    (
        "group-export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
    ),
];

/// `GET /metadata`.
pub async fn metadata(exports: web::Data<Exports>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .json(capability_statement(&exports))
}

/// The CapabilityStatement of this service.
pub fn capability_statement(exports: &Exports) -> Value {
    let base = exports.base_url();
    let operation = |name: &str| -> Value {
        let (_, definition) = EXPORT_OPERATIONS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a known operation");
        json!({ "name": "export", "definition": definition })
    };
    let mut rest = json!({
        "mode": "server",
        "operation": [operation("export")],
        "resource": [
            {
                "type": "Patient",
                "operation": [operation("patient-export")],
                // Clients read it to decide whether `_since` is supported.
                "searchParam": [{ "name": "_lastUpdated", "type": "date" }],
            },
            {
                "type": "Group",
                "operation": [operation("group-export")],
            },
            {
                "type": EXPORTED_TYPE,
                "interaction": [],
                "searchParam": [{ "name": "_lastUpdated", "type": "date" }],
            },
        ],
    });
    if exports.auth.is_some() {
        rest["security"] = json!({
            "extension": [{
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{ "url": "token", "valueUri": format!("{base}{TOKEN_PATH}") }],
            }],
            "service": [{
                "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR",
                }],
            }],
            "description": "SMART Backend Services: client credentials with a signed JWT assertion",
        });
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": exports.started(),
        "kind": "instance",
        "instantiates": [BULK_DATA_CAPABILITY],
        "software": { "name": "claims-aggregator server", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Bulk claims export", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [rest],
    })
}

/// `GET /.well-known/smart-configuration`; a 404 when the service runs open.
pub async fn smart_configuration(exports: web::Data<Exports>) -> HttpResponse {
    if exports.auth.is_none() {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            "this service runs without authorization (no --clients)",
        );
    }
    let base = exports.base_url();
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGORITHMS,
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": SCOPES,
        "capabilities": ["client-confidential-asymmetric"],
    }))
}
