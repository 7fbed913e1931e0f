//! Integration tests that need the TEST-ONLY fixture binary (`CARGO_BIN_EXE_…` is only set for
//! a package's own binaries): its slow tool and its memory under hostile input. The wire and
//! process helpers are the server crate's own harness files, included rather than copied.

#![allow(
    unreachable_pub,
    reason = "the harness files are shared with quilt-mcp-server's test modules"
)]

#[path = "../../../quilt-mcp-server/tests/it/support/process.rs"]
mod process;
#[path = "../../../quilt-mcp-server/tests/it/support/wire.rs"]
#[allow(
    dead_code,
    reason = "the shared harness has more helpers than these tests use"
)]
mod wire;

/// The same names the server crate's tests import from `crate::support`.
mod support {
    pub use crate::process::*;
    pub use crate::wire::*;
}

use wire::http;

mod limits;
mod shutdown;
