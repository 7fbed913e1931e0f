//! Fuzzes Quilt manifest reading and writing (`quilt_package::Manifest`). The invariants are
//! in `checks/manifest.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/manifest.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::check(data));
