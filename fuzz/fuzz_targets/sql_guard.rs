//! Fuzzes the Athena SQL guard (`quilt_mcp_aws::sql_guard::check`). The invariants are in
//! `checks/sql_guard.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/sql_guard.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
