//! Fuzzes S3 URI parsing (`quilt_mcp_aws::s3uri`). The invariants are in `checks/s3_uri.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/s3_uri.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
