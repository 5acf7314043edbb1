//! A completed export's status carries `Expires`, and once its retention has
//! passed the export is deleted: its status and files are 404, its job
//! directory and record are gone.

mod common;

use std::time::{Duration, SystemTime};

use actix_web::http::header::HttpDate;
use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use common::*;

#[actix::test]
async fn a_completed_status_expires_and_the_export_is_then_deleted() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &["--beneficiaries", "10", "--retention-secs", "2"],
    );
    let base = serve(service::Exports::start(args).unwrap());
    let status_url = content_location(&kick_off(&base, "/Patient/$export").await);
    let done = poll(&status_url).await;
    assert_eq!(done.status(), StatusCode::OK);
    let expires: SystemTime = done.headers()["expires"]
        .to_str()
        .unwrap()
        .parse::<HttpDate>()
        .unwrap()
        .into();
    let now = SystemTime::now();
    // HTTP dates have whole seconds.
    assert!(
        expires > now - Duration::from_secs(1) && expires <= now + Duration::from_secs(2),
        "Expires {expires:?}, now {now:?}"
    );
    let manifest: Value = json(done).await;
    let file_url = manifest["output"][0]["url"].as_str().unwrap().to_owned();
    let id = status_url.rsplit('/').next().unwrap().to_owned();
    assert!(root.path().join(&id).is_dir());

    let mut deleted = false;
    for _ in 0..200 {
        let status = client().get(&status_url).send().await.unwrap().status();
        if status == StatusCode::NOT_FOUND {
            deleted = true;
            break;
        }
        assert_eq!(status, StatusCode::OK);
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(deleted, "the export was not deleted after its retention");
    assert!(
        SystemTime::now() + Duration::from_secs(1) >= expires,
        "not deleted before it expired"
    );
    assert_eq!(
        client().get(&file_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // The files go right after the export leaves the list.
    let mut gone = false;
    for _ in 0..100 {
        gone = !root.path().join(&id).exists()
            && !root
                .path()
                .join(".exports")
                .join(format!("{id}.json"))
                .exists();
        if gone {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the job directory and record are deleted");
}
