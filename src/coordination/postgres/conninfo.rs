//! Connection strings: parsed by the client (libpq `key=value` form or
//! `postgresql://` URL), and described in errors without their password.

use tokio_postgres::config::Host;
use tokio_postgres::Config;

use crate::error::{Error, Result};

/// Parses a connection string, in libpq form
/// (`host=127.0.0.1 port=5433 user=postgres dbname=claims`) or as a URL
/// (`postgresql://postgres@127.0.0.1:5433/claims`). The error names the string,
/// its password masked.
pub(super) fn parse(conninfo: &str) -> Result<Config> {
    if conninfo.trim().is_empty() {
        return Err(Error::config("db", "the connection string is empty"));
    }
    conninfo.parse::<Config>().map_err(|e| {
        Error::config(
            "db",
            format!("cannot parse connection string {:?}: {e}", redact(conninfo)),
        )
    })
}

/// Where a parsed configuration connects, for messages:
/// `host=127.0.0.1 port=5433 user=postgres dbname=claims` (never the password).
pub(super) fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .chain(config.get_hostaddrs().iter().map(|a| a.to_string()))
        .collect();
    let mut text = String::new();
    let mut add = |key: &str, value: String| {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(key);
        text.push('=');
        text.push_str(&value);
    };
    if !hosts.is_empty() {
        add("host", hosts.join(","));
    }
    let ports = config.get_ports();
    if !ports.is_empty() {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        add("port", ports.join(","));
    }
    if let Some(user) = config.get_user() {
        add("user", user.to_owned());
    }
    if let Some(dbname) = config.get_dbname() {
        add("dbname", dbname.to_owned());
    }
    text
}

/// `conninfo` with every password replaced by `***`: the value of a
/// `password` key (libpq form, or a URL's query) and a URL's `user:password@`.
pub(super) fn redact(conninfo: &str) -> String {
    let lower = conninfo.to_ascii_lowercase();
    let masked = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        redact_url(conninfo)
    } else {
        redact_key_values(conninfo)
    };
    cut_unmasked(masked)
}

/// The safety net of a malformed string (an unterminated quote can hide a
/// `password=` inside another value): everything from a `password =` not
/// followed by `***` on is masked.
fn cut_unmasked(mut text: String) -> String {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let key_end = from + found + "password".len();
        let rest = lower[key_end..].trim_start();
        if let Some(value) = rest.strip_prefix('=') {
            if !value.trim_start().starts_with("***") {
                text.truncate(key_end);
                text.push_str("=***");
                return text;
            }
        }
        from = key_end;
    }
    text
}

fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let mut out = String::with_capacity(url.len());
    let authority = &url[start..end];
    out.push_str(&url[..start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..=colon]);
                    out.push_str("***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[end..];
    match rest.find('?') {
        Some(q) => {
            out.push_str(&rest[..=q]);
            let params: Vec<String> = rest[q + 1..]
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

/// libpq form: `key = value` pairs, a value quoted with `'` (with `\` escapes)
/// or running to the next blank.
fn redact_key_values(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        // Copy blanks, then read a key up to `=` or a blank.
        let key_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &text[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        out.push_str(&text[key_start..i]);
        if i >= bytes.len() || bytes[i] != b'=' {
            continue;
        }
        out.push('=');
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            out.push(bytes[i] as char);
            i += 1;
        }
        let value_start = i;
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&text[value_start..i]);
        }
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse() {
        let a = parse("host=127.0.0.1 port=5433 user=postgres dbname=claims").unwrap();
        let b = parse("postgresql://postgres@127.0.0.1:5433/claims").unwrap();
        for config in [&a, &b] {
            assert_eq!(
                describe(config),
                "host=127.0.0.1 port=5433 user=postgres dbname=claims"
            );
        }
    }

    #[test]
    fn descriptions_never_hold_the_password() {
        let c = parse("host=db port=5432 user=u password=s3cret dbname=x").unwrap();
        assert!(!describe(&c).contains("s3cret"), "{}", describe(&c));
    }

    #[test]
    fn passwords_are_masked() {
        for (given, masked) in [
            (
                "host=db password=s3cret user=u",
                "host=db password=*** user=u",
            ),
            (
                "host=db password = 'se cr\\'et' user=u",
                "host=db password = *** user=u",
            ),
            ("PASSWORD=x", "PASSWORD=***"),
            ("host=db user=u", "host=db user=u"),
            (
                "postgresql://u:s3cret@db:5432/claims",
                "postgresql://u:***@db:5432/claims",
            ),
            (
                "postgres://u@db/claims?password=s3cret&sslmode=disable",
                "postgres://u@db/claims?password=***&sslmode=disable",
            ),
            ("postgres://db/claims", "postgres://db/claims"),
        ] {
            assert_eq!(redact(given), masked, "{given}");
        }
    }

    #[test]
    fn a_bad_string_is_named_without_its_password() {
        for bad in [
            "host=db password=s3cret port=notaport",
            "host='unterminated password=s3cret",
            "postgresql://u:s3cret@db:notaport/x",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid config: db: cannot parse connection string"),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
        let err = parse("  ").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
