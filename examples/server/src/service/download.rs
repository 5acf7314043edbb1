//! Downloads, `/files/{id}/{file}`: only the files an export's report lists
//! (no path ever comes from the request), with the checksum as `ETag`; gzipped
//! outputs are decompressed on a blocking thread for clients that do not take
//! gzip. A client downloads only its own exports' files.

use std::path::PathBuf;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::exports::{Exports, State};
use super::manifest::{ignored_ndjson, IGNORED_FILE};
use super::outcome::outcome;

/// Media type of NDJSON outputs.
const NDJSON: &str = "application/fhir+ndjson";

/// `GET /files/{id}/{file}`.
pub async fn download(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let caller = match Caller::of(&req, &exports) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let (id, file) = path.into_inner();
    let not_found = || {
        outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no file {file} in export {id}"),
        )
    };
    let (output, ignored) = {
        let jobs = exports.jobs.lock().unwrap();
        let Some(record) = jobs
            .exports
            .get(&id)
            .filter(|export| matches!(export.state, State::Done))
            .filter(|export| caller.owns(&export.record))
            .map(|export| &export.record)
            .filter(|record| {
                record
                    .report
                    .as_ref()
                    .is_some_and(|r| r.status.is_completed())
            })
        else {
            return not_found();
        };
        let output = record
            .report
            .as_ref()
            .and_then(|report| report.outputs.iter().find(|o| o.file == file).cloned());
        let ignored = (file == IGNORED_FILE)
            .then(|| ignored_ndjson(record))
            .flatten();
        (output, ignored)
    };
    if let Some(ndjson) = ignored {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(&ndjson)));
        return HttpResponse::Ok()
            .content_type(NDJSON)
            .insert_header((header::ETAG, etag))
            .body(ndjson);
    }
    let Some(output) = output else {
        return not_found();
    };
    let gzipped = output.compressed_bytes.is_some();
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // One ETag per representation: the checksum, marked when sent gzipped.
    let etag = if gzipped && accepts_gzip {
        format!("\"{}.gz\"", output.sha256)
    } else {
        format!("\"{}\"", output.sha256)
    };
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let path = exports.settings.job.root.join(&id).join(&output.file);
    if gzipped && !accepts_gzip {
        return HttpResponse::Ok()
            .content_type(NDJSON)
            .insert_header((header::ETAG, etag))
            .insert_header((header::VARY, "Accept-Encoding"))
            .streaming(gunzip(path));
    }
    let opened = web::block({
        let path = path.clone();
        move || actix_files::NamedFile::open(path)
    })
    .await;
    let named = match opened {
        Ok(Ok(named)) => named,
        Ok(Err(e)) => {
            log::error!("export {id}: open {}: {e}", path.display());
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("file {file} is gone"),
            );
        }
        Err(e) => {
            log::error!("export {id}: open {}: {e}", path.display());
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("file {file} is gone"),
            );
        }
    };
    let mut named = named
        .use_etag(false)
        .use_last_modified(false)
        .disable_content_disposition()
        .set_content_type(NDJSON.parse().expect("a valid media type"));
    if gzipped {
        named = named.set_content_encoding(header::ContentEncoding::Gzip);
    }
    let mut response = named.into_response(&req);
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header value"),
    );
    if gzipped {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
}
/// Streams the NDJSON inside a gzipped file, decompressed on a blocking thread.
fn gunzip(
    path: PathBuf,
) -> impl futures::Stream<Item = Result<web::Bytes, std::io::Error>> + 'static {
    let (mut tx, rx) = futures::channel::mpsc::channel(4);
    actix_rt::task::spawn_blocking(move || {
        use futures::SinkExt;
        use std::io::Read;
        let mut send = |item| futures::executor::block_on(tx.send(item)).is_ok();
        let mut reader = match std::fs::File::open(&path) {
            Ok(file) => flate2::read::MultiGzDecoder::new(file),
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if !send(Ok(web::Bytes::copy_from_slice(&buf[..n]))) {
                        return; // the client went away
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}
