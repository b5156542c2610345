//! The sealbuild verifier service library.
//!
//! * [`service`]: registration, activation, nonces, appraisal and key release.
//! * [`http`]: the HTTP/JSON API over TLS; [`routes`]: its one route table
//!   and handlers; [`openapi`]: the OpenAPI document made from that table.
//! * [`store`]: the storage trait and its SQLite implementation.
//! * [`keys`]: release keys: generation, PKCS#8 import, encryption at rest;
//!   [`keyrecord`]: what the store keeps of a key.
//! * [`audit`]: the append-only, hash-chained audit log.
//! * [`config`], [`tls`], [`resultkey`], [`clock`]: the service's edges.
//! * [`metrics`]: Prometheus metrics.
//! * [`ratelimit`]: per-source limits of the unauthenticated routes.
//! * [`error`]: the error type and its one mapping to HTTP statuses.
//! * [`collateral`]: the SEV-SNP collateral store and the AMD KDS fetcher.

pub mod audit;
pub mod clock;
pub mod collateral;
pub mod config;
pub mod error;
pub mod evidence;
pub mod http;
pub mod keyrecord;
pub mod keys;
pub mod memory;
pub mod metrics;
pub mod nonce;
pub mod openapi;
pub mod ratelimit;
pub mod refusals;
pub mod resultkey;
pub mod routes;
pub mod service;
pub mod store;
pub mod tls;
