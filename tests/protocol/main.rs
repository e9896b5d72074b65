//! Every API fjord advertises, at every advertised version, over a real
//! socket against a real (in-process) server: the request is encoded with the
//! kafka-protocol codec at that version, the response decoded at that version,
//! and its contents checked. This is the codec round-trip for each version,
//! and it exercises the handlers' version-specific fields (a field set outside
//! its version makes the codec refuse to encode).
//!
//! One test binary; each module covers one area, and `common` holds the
//! helpers they share.

mod common;

mod acls;
mod admin;
mod admin_surface;
mod api_versions;
mod bad_input;
mod consumer_groups;
mod delete_records;
mod fetch_sessions;
mod groups;
mod long_poll;
mod metadata;
mod produce_fetch;
mod reassignment;
mod replica_admin;
mod sasl;
mod share_fetch;
mod share_groups;
mod share_state_rpcs;
mod transactions;
