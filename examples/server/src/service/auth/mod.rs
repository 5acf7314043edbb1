//! SMART Backend Services authorization, as the Bulk Data IG and AB2D ask:
//! a registered client ([`clients`]) trades a JWT signed with its private key
//! ([`assertion`]) for a short-lived bearer token at the token endpoint
//! ([`token`]); every kick-off, status, download and DELETE then needs that
//! token ([`Caller::of`]). A client exports only its contracts and sees only
//! its own exports. Without `--clients` the service runs open: [`Caller::Open`]
//! may do anything, and the start says so in a warning.

pub mod assertion;
pub mod clients;
pub mod token;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::exports::{Exports, Record};
use super::outcome::outcome;
use assertion::SeenAssertions;
use clients::Client;

/// Where the token endpoint is, under the service's base URL.
pub const TOKEN_PATH: &str = "/auth/token";
/// The scopes a token may carry (SMART v1 system scopes).
pub const SCOPES: [&str; 2] = ["system/*.read", "system/ExplanationOfBenefit.read"];
/// The algorithms client assertions may be signed with.
pub const SIGNING_ALGORITHMS: [&str; 2] = ["ES384", "RS384"];
/// How long an access token is good for (SMART recommends five minutes).
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// The realm named in `WWW-Authenticate`.
const REALM: &str = "claims-aggregator";

/// What an access token was granted for.
#[derive(Debug, Clone)]
struct Grant {
    /// Whose token it is: what it may export and see.
    client_id: String,
    /// After this the token is refused (and dropped at the next issue).
    expires: Instant,
}

/// The registered clients, the assertions they used and the tokens given out.
pub struct Auth {
    /// The registered clients, by id.
    clients: HashMap<String, Client>,
    /// Assertion ids used within their validity: each assertion is good once.
    seen: Mutex<SeenAssertions>,
    /// Live access tokens. In memory only: a restart asks clients for new
    /// tokens, which they get as they got the first.
    tokens: Mutex<HashMap<String, Grant>>,
}

impl Auth {
    /// Reads the clients file.
    pub fn load(path: &Path) -> Result<Auth, String> {
        let clients = clients::load(path)?;
        log::info!(
            "authorization on: {} registered clients, tokens from {TOKEN_PATH}",
            clients.len()
        );
        Ok(Auth {
            clients,
            seen: Mutex::new(SeenAssertions::default()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Gives `client_id` a new access token.
    fn issue(&self, client_id: &str) -> String {
        // Two v4 UUIDs: 244 random bits from the operating system's generator.
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap();
        tokens.retain(|_, grant| grant.expires > now);
        tokens.insert(
            token.clone(),
            Grant {
                client_id: client_id.to_owned(),
                expires: now + ACCESS_TOKEN_LIFETIME,
            },
        );
        token
    }

    /// The client a live token was given to.
    fn client_of(&self, token: &str) -> Option<&Client> {
        let grant = self.tokens.lock().unwrap().get(token).cloned()?;
        (grant.expires > Instant::now())
            .then(|| self.clients.get(&grant.client_id))
            .flatten()
    }
}

/// Who sent a request.
#[derive(Debug)]
pub enum Caller<'a> {
    /// Anyone: the service runs without `--clients`.
    Open,
    /// A registered client, by its token.
    Client(&'a Client),
}

impl<'a> Caller<'a> {
    /// The caller of `req`; a 401 when authorization is on and the request has
    /// no live bearer token.
    pub fn of(req: &HttpRequest, exports: &'a Exports) -> Result<Caller<'a>, Box<HttpResponse>> {
        let Some(auth) = &exports.auth else {
            return Ok(Caller::Open);
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let Some(token) = presented else {
            return Err(unauthorized(
                format!("Bearer realm=\"{REALM}\""),
                "this service needs a bearer access token (SMART Backend Services)",
            ));
        };
        match auth.client_of(token) {
            Some(client) => Ok(Caller::Client(client)),
            None => Err(unauthorized(
                format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
                "the access token is unknown or expired",
            )),
        }
    }

    /// Whether the caller may export `contract`.
    pub fn may_export(&self, contract: &str) -> bool {
        match self {
            Caller::Open => true,
            Caller::Client(client) => client.contracts.iter().any(|c| c == contract),
        }
    }

    /// Whether the caller may see the export of `record`.
    pub fn owns(&self, record: &Record) -> bool {
        match self {
            Caller::Open => true,
            Caller::Client(client) => record.owner.as_deref() == Some(client.id.as_str()),
        }
    }

    /// The client's id, if a client.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Caller::Open => None,
            Caller::Client(client) => Some(&client.id),
        }
    }
}

impl std::fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Open => write!(f, "an anonymous caller"),
            Caller::Client(client) => write!(f, "client {}", client.id),
        }
    }
}

fn unauthorized(challenge: String, text: &str) -> Box<HttpResponse> {
    let mut response = outcome(StatusCode::UNAUTHORIZED, "login", text);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_str(&challenge).expect("a valid header value"),
    );
    Box::new(response)
}
