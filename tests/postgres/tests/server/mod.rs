//! A real PostgreSQL for the coordination tests, never a mock.
//!
//! `CLAIMS_AGGREGATOR_TEST_DB` (a libpq connection string such as
//! `host=127.0.0.1 port=5433 user=postgres dbname=postgres`, or a URL) names a
//! server to use; `.ci/run` starts one and sets it. Without it, the first test
//! that asks starts a throwaway server for the whole test process: `initdb` and
//! `pg_ctl` (on `PATH`, or under `/usr/lib/postgresql/*/bin`) with its data in a
//! temp dir, on a free loopback port, as the `postgres` user when run as root
//! (initdb refuses root). It is stopped and its directory removed when the test
//! process exits, or, if the process is killed, by a watchdog within a second.
//!
//! Each test gets its own database, `ca_test_<name>` (dropped and created
//! anew), so tests run in parallel without seeing each other.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The variable naming a server to test against.
pub const TEST_DB_VAR: &str = "CLAIMS_AGGREGATOR_TEST_DB";

/// Connection string of a new, empty database for test `name`.
pub async fn fresh_database(name: &str) -> String {
    let base = server();
    let db = format!("ca_test_{name}");
    assert!(db.len() <= 63, "database name {db} is too long");
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to the test server {base:?} (from {TEST_DB_VAR}, or started here): {e:?}")
        });
    actix_rt::spawn(async move {
        let _ = connection.await;
    });
    // One statement each: neither may run in a transaction block.
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{db}\""),
    ] {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} on {base}: {e:?}"));
    }
    with_dbname(base, &db)
}

/// `conninfo` with its database replaced by `db`, in either form.
pub fn with_dbname(conninfo: &str, db: &str) -> String {
    if conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://") {
        let mut url = url::Url::parse(conninfo).expect("a valid URL");
        url.set_path(db);
        url.to_string()
    } else {
        // In libpq form a later key wins.
        format!("{conninfo} dbname={db}")
    }
}

/// The server's connection string: the variable's, or one started here.
pub fn server() -> &'static str {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    let server = SERVER.get_or_init(|| match std::env::var(TEST_DB_VAR) {
        Ok(conninfo) if !conninfo.trim().is_empty() => Ok(conninfo),
        _ => start_throwaway_server(),
    });
    match server {
        Ok(conninfo) => conninfo,
        Err(why) => panic!(
            "no PostgreSQL for the tests: {TEST_DB_VAR} is not set, and starting one \
             failed: {why}\nSet {TEST_DB_VAR} to a libpq connection string of a server \
             where this user may create databases, or install PostgreSQL's server \
             (Debian: apt-get install postgresql)."
        ),
    }
}

/// The throwaway server's directory, for the exit handler.
static THROWAWAY_DIR: OnceLock<PathBuf> = OnceLock::new();

fn start_throwaway_server() -> Result<String, String> {
    let bin = find_bin_dir()?;
    let as_root = unsafe { libc::geteuid() } == 0;
    let dir = init_cluster(as_root, &bin, "claims-aggregator-pg-")?;
    THROWAWAY_DIR.set(dir.clone()).expect("started once");
    unsafe { libc::atexit(stop_throwaway_server) };
    spawn_watchdog(&dir);

    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port().map_err(|e| format!("free port: {e}"))?;
        // Shared by every test of the process, never restarted: commits
        // need not be durable.
        let unsafe_commits = "-c synchronous_commit=off -c full_page_writes=off";
        match pg_ctl_start(as_root, &bin, &dir, port, unsafe_commits) {
            Ok(()) => {
                return Ok(format!(
                    "host=127.0.0.1 port={port} user=postgres dbname=postgres"
                ))
            }
            // Most likely the port was taken in between: try another.
            Err(e) => last_error = e,
        }
    }
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    Err(format!("{last_error}\nserver log:\n{log}"))
}

/// `initdb` and `pg_ctl`'s directory: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "initdb is not on PATH and /usr/lib/postgresql does not exist".to_owned())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb on PATH nor under /usr/lib/postgresql/*/bin".to_owned())
}

/// `program`, run as the `postgres` user when we are root.
fn as_postgres(as_root: bool, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Stops the server at once (its data is thrown away) and removes its directory.
extern "C" fn stop_throwaway_server() {
    if let Some(dir) = THROWAWAY_DIR.get() {
        stop_postmaster(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGQUIT to the postmaster: immediate shutdown. Works as root or as the
/// server's owner, and needs no `pg_ctl`.
fn stop_postmaster(dir: &Path) {
    let Ok(pid_file) = std::fs::read_to_string(dir.join("data/postmaster.pid")) else {
        return;
    };
    let Some(pid) = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    else {
        return;
    };
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    // Wait (briefly) until it is gone, so that the directory can go too.
    for _ in 0..100 {
        if unsafe { libc::kill(pid, 0) } != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// If this process is killed, no exit handler runs: a shell stops the server
/// and removes its directory once this process is gone.
fn spawn_watchdog(dir: &Path) {
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
pid=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null) && kill -QUIT "$pid" 2>/dev/null
sleep 1
rm -rf "$2""#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A new database cluster in `<temp dir>/data`, owned by the `postgres` user
/// when we are root (initdb refuses root); its temp dir, kept. Removed again
/// if initdb fails.
fn init_cluster(as_root: bool, bin: &Path, prefix: &str) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    let initialized = (|| {
        if as_root {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err("chown postgres: is there a postgres user?".to_owned());
            }
        }
        let mut initdb = as_postgres(as_root, &bin.join("initdb"));
        initdb.arg("-D").arg(dir.join("data")).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb")
    })();
    match initialized {
        Ok(()) => Ok(dir),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// `pg_ctl start` of the cluster in `dir` on loopback `port`, with `options`
/// added to the server's; waits until it takes connections. `fsync` is off:
/// the machine does not crash in a test.
fn pg_ctl_start(
    as_root: bool,
    bin: &Path,
    dir: &Path,
    port: u16,
    options: &str,
) -> Result<(), String> {
    let mut pg_ctl = as_postgres(as_root, &bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "-o"])
        .arg(format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200 \
             {options}",
            dir.display()
        ))
        .arg("start");
    run(pg_ctl, "pg_ctl start")
}

/// A server of one test's own, which it may stop and start again (a restart
/// in the middle of a job); stopped and removed when dropped.
pub struct PrivateServer {
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
    port: u16,
}

impl PrivateServer {
    /// A new server on a free loopback port, started.
    pub fn start() -> PrivateServer {
        let bin = find_bin_dir().expect("PostgreSQL's server programs");
        let as_root = unsafe { libc::geteuid() } == 0;
        let dir = init_cluster(as_root, &bin, "claims-aggregator-pg-private-").unwrap();
        spawn_watchdog(&dir);
        let server = PrivateServer {
            dir,
            bin,
            as_root,
            port: free_port().expect("a free port"),
        };
        server.start_again();
        server
    }

    /// Its connection string.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// Stops it at once, as a crash or a failover would (`pg_ctl stop -m
    /// immediate`): connections are cut, nothing is flushed.
    pub fn stop(&self) {
        let mut pg_ctl = as_postgres(self.as_root, &self.bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        run(pg_ctl, "pg_ctl stop").unwrap();
    }

    /// Starts it (again) on its port, and waits until it takes connections.
    /// Its commits are durable, as the coordination needs: an immediate stop
    /// is a crash of the server, which must not lose a committed batch.
    pub fn start_again(&self) {
        pg_ctl_start(self.as_root, &self.bin, &self.dir, self.port, "").unwrap();
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        stop_postmaster(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
