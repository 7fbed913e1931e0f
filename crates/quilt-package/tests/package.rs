//! The quilt-package test suite (one binary, for link time): the fixed vectors, object
//! hashes, each bad input and its error, property tests, and the cross-check with quilt3.

mod package {
    pub(crate) mod bad_input;
    pub(crate) mod object_hashes;
    pub(crate) mod properties;
    pub(crate) mod quilt3_crosscheck;
    pub(crate) mod vectors;
}
