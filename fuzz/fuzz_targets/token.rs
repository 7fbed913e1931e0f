//! Fuzzes the `Authorization` header → verified token → claims path of `quilt-mcp-auth`.
//! The invariants are in `checks/token.rs`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use quilt_mcp_auth::TokenVerifier;

#[path = "../checks/token.rs"]
mod checks;

static VERIFIER: LazyLock<TokenVerifier> = LazyLock::new(checks::verifier);

fuzz_target!(|data: &[u8]| checks::check(&VERIFIER, data));
