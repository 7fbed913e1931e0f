//! Integration tests of quilt-mcp-server on a real listening server (loopback, port 0).
//! One test binary for the crate (link time matters on two cores); one module per behaviour.

#![allow(
    unreachable_pub,
    reason = "the harness in support.rs is shared by the test modules"
)]

mod admission;
mod athena;
mod athena_shim;
mod binary;
mod buckets;
mod concurrency;
mod credentials;
mod fault_proxy;
mod faults;
mod glue;
mod http_surface;
mod isolation;
mod jwt;
mod limits;
mod moto;
mod packaging;
mod permissions;
mod preview;
mod protocol;
mod resources;
mod python_client;
mod scale;
mod shutdown;
mod support;
