//! What the `server` binary says when it starts: loudly that it runs open
//! without `--clients`; with clients and TLS, that it serves HTTPS, without a
//! warning and without a byte of its private key in the log.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest the binary may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the binary with `args`; answers its log up to the line that says it
/// listens, then stops it.
fn log_until_listening(args: &[&str]) -> String {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let listening = loop {
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("listening on") {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listening, "the server did not start:\n{log}");
    log
}

#[test]
fn without_clients_the_start_warns_that_the_service_is_open() {
    let root = tempfile::tempdir().unwrap();
    let log = log_until_listening(&[
        "--bind",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let warning = log
        .lines()
        .find(|l| l.contains("OPEN"))
        .unwrap_or_else(|| panic!("no warning:\n{log}"));
    assert!(
        warning.contains("WARN") && warning.contains("--clients"),
        "{warning}"
    );
    assert!(log.contains("listening on http://127.0.0.1:"), "{log}");
}

#[test]
fn with_clients_and_tls_it_serves_https_and_never_logs_the_key() {
    let root = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key_pem = certified.signing_key.serialize_pem();
    let cert = root.path().join("cert.pem");
    let key = root.path().join("key.pem");
    let clients = root.path().join("clients.json");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    std::fs::write(&clients, "[]").unwrap();
    let log = log_until_listening(&[
        "--bind",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--clients",
        clients.to_str().unwrap(),
    ]);
    assert!(log.contains("listening on https://127.0.0.1:"), "{log}");
    assert!(!log.contains("OPEN"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
    for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!log.contains(line), "a line of the key is in the log");
    }
}
