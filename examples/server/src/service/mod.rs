//! The FHIR Bulk Data export service of the `server` binary, as a reusable
//! actix-web configuration (the integration tests bind the same one).
//!
//! | request | answer |
//! |---|---|
//! | `GET /metadata` | the CapabilityStatement |
//! | `GET /.well-known/smart-configuration` | where and how to get a token (with `--clients`) |
//! | `POST /auth/token` | a bearer access token for a signed client assertion (with `--clients`) |
//! | `GET /$export`, `/Patient/$export`, `/Group/{contract}/$export` with `Prefer: respond-async` | `202` + `Content-Location` of the status URL; `400` for unsupported parameters (dropped and reported with `handling=lenient`); `404` for an unknown Group |
//! | `GET /jobs/{id}` | `202` + `X-Progress` (queued, or how far), `Retry-After`; `200` + manifest + `Expires`; `500` when failed; `404` unknown, deleted, expired or another client's |
//! | `DELETE /jobs/{id}` | `202`: cancels a queued or running export, or deletes a finished one |
//! | `GET /files/{id}/{file}` | the output, `ETag` from its checksum; `404` for anything not listed in the manifest |
//!
//! Every 4xx and 5xx carries an OperationOutcome (the token endpoint's, an
//! OAuth error). With `--clients`, everything but the first three needs a
//! bearer token.
//!
//! One concern a file: [`exports`] (the exports' life: queue, jobs, records,
//! retention), [`kickoff`], [`status`], [`download`], [`manifest`],
//! [`capability`], [`auth`], [`outcome`] (error bodies), [`contracts`],
//! [`settings`] (the flags) and [`listen`] (HTTP or HTTPS).

pub mod auth;
pub mod capability;
pub mod contracts;
pub mod download;
pub mod exports;
pub mod kickoff;
pub mod listen;
pub mod manifest;
pub mod outcome;
pub mod settings;
pub mod status;

use actix_web::middleware::ErrorHandlers;
use actix_web::web;

pub use exports::Exports;
pub use listen::{serve, tls_config, Listen};
pub use settings::Settings;

/// Mounts the service's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let wrong_method = || web::to(outcome::wrong_method);
    cfg.service(
        web::scope("")
            .wrap(ErrorHandlers::new().default_handler(outcome::fhir_errors))
            .service(
                web::resource("/metadata")
                    .get(capability::metadata)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/.well-known/smart-configuration")
                    .get(capability::smart_configuration)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource(auth::TOKEN_PATH)
                    .post(auth::token::token)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/$export")
                    .get(kickoff::system)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/Patient/$export")
                    .get(kickoff::patient)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/Group/{contract}/$export")
                    .get(kickoff::group)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/jobs/{id}")
                    .get(status::status)
                    .delete(status::delete)
                    .default_service(wrong_method()),
            )
            .service(
                web::resource("/files/{id}/{file}")
                    .get(download::download)
                    .default_service(wrong_method()),
            )
            .default_service(web::to(outcome::unknown_route)),
    );
}
