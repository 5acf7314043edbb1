//! A stub of CMS's BFD FHIR server: [`server`] is the stub itself (what the
//! `bfd_stub` binary serves from the command line, and what the tests and the
//! `bfd_throughput` bench start in-process on `127.0.0.1:0`), [`pki`] a
//! throw-away test PKI for mutual TLS.

pub mod pki;
pub mod server;
