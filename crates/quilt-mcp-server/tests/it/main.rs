//! Integration tests of quilt-mcp-server on a real listening server (loopback, port 0).
//! One test binary for the crate (link time matters on two cores); one module per behaviour.

#![allow(
    unreachable_pub,
    reason = "the harness in support.rs is shared by the test modules"
)]

mod admin;
mod admission;
mod athena;
mod athena_owners;
mod athena_shim;
mod binary;
mod buckets;
mod catalog;
mod catalog_standin;
mod cfn_shim;
mod concurrency;
mod confirm;
mod credential_uses;
mod credentials;
mod everyday;
mod fairness;
mod fault_proxy;
mod faults;
mod glue;
mod http_surface;
mod identity;
mod isolation;
mod jwt;
mod key_names;
mod limits;
mod memory_bounds;
mod moto;
mod packaging;
mod permissions;
mod preview;
mod prompts;
mod protocol;
mod python_client;
mod resources;
mod scale;
mod shutdown;
mod stack_discovery;
mod support;
mod tasks;
mod whole_call;
mod workflows;
