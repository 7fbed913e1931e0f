//! Integration tests of quilt-mcp-server on a real listening server (loopback, port 0).
//! One test binary for the crate (link time matters on two cores); one module per behaviour.

#![allow(
    unreachable_pub,
    reason = "the harness in support/ is shared by the test modules"
)]

mod admin;
mod admission;
mod athena;
mod athena_owners;
mod binary;
mod buckets;
mod catalog;
mod concurrency;
mod confirm;
mod credential_uses;
mod credentials;
mod everyday;
mod fairness;
mod faults;
mod glue;
mod http_surface;
mod identity;
mod isolation;
mod jwt;
mod key_names;
mod memory_bounds;
mod package_tasks;
mod packaging;
mod permissions;
mod preview;
mod prompts;
mod protocol;
mod python_client;
mod request_ids;
mod resources;
mod scale;
mod shutdown;
mod stack_discovery;
mod support;

// The harness modules live in support/; these keep their short paths (`crate::moto::Moto`).
use support::{athena_shim, catalog_standin, cfn_shim, fault_proxy, moto};
mod tasks;
mod whole_call;
mod workflows;
