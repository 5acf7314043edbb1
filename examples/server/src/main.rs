//! A FHIR Bulk Data export service on the library: kick-off, status with
//! progress, manifest, downloads and DELETE, as AB2D's API serves them.
//!
//! ```text
//! cargo run --release -p server -- --bind 127.0.0.1:8080 --root ./efsmount
//! curl -i -H 'Prefer: respond-async' 'http://127.0.0.1:8080/Group/Z9000/$export?_type=ExplanationOfBenefit'
//! ```
//!
//! The job options of the `export` example (`--beneficiaries`, `--max-mb`, …) are the
//! defaults of every job. Exports survive a restart (see `service.rs`).

use std::process::ExitCode;

use actix_web::{web, App, HttpServer};
use clap::Parser;

use server::{job_args, service};

#[derive(Debug, Parser)]
#[command(about = "Serve FHIR Bulk Data exports of claims")]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: String,
    #[command(flatten)]
    job: job_args::JobArgs,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let result = actix_web::rt::System::new().block_on(async move {
        let exports = service::Exports::start(args.job)?;
        let data = web::Data::from(exports);
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).configure(service::routes))
                .bind(&args.bind)
                .map_err(|e| format!("bind {}: {e}", args.bind))?;
        log::info!("listening on http://{}", args.bind);
        server.run().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
