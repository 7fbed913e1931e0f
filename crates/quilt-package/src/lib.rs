//! The Quilt package format, exactly as quilt3 8.x reads and writes it. Pure: no I/O beyond
//! the `Read`/`Write` you pass in, no async, no AWS.
//!
//! - [`Manifest`], [`Header`], [`Entry`], [`DirMeta`]: the model. [`Manifest::read`] /
//!   [`Manifest::write`] for whole manifests; [`ManifestReader`] / [`ManifestWriter`] to
//!   stream one that is too big to hold. Writing reproduces quilt3's bytes (Python
//!   `json.dumps` forms); reading refuses what would make a manifest ambiguous, each with its
//!   own [`ManifestError`] variant.
//! - [`TopHash`], [`TopHasher`]: a revision's identity, computed as quilt3 does.
//! - [`ObjectHash`] and the streaming hashers ([`ChunkedSha256Hasher`], [`Sha256Hasher`],
//!   [`Crc64NvmeHasher`], [`ObjectHasher`]); S3 checksum conversions where exact.
//! - [`registry`]: the keys of manifests and pointers in a registry bucket.
//! - [`PackageName`], [`LogicalKey`] (+ walk order, [`check_key_set`]), [`PhysicalKey`].
//! - [`diff()`]: what changed between two revisions; [`changes`]: the same over two streamed
//!   manifests, in constant memory.
//! - [`json`]: the JSON value type with Python's semantics that all of this rests on.
//!
//! Format decisions are in `docs/PACKAGES.md`.

mod diff;
pub mod json;
mod logical_key;
mod manifest;
mod name;
mod object_hash;
mod physical_key;
pub mod registry;
mod top_hash;

pub use diff::{Change, Changes, Diff, Modified, changes, diff};
pub use json::{JsonError, JsonNumber, JsonObject, JsonValue};
pub use logical_key::{
    KeySetError, LogicalKey, LogicalKeyError, WalkOrderCheck, check_key_set, walk_order,
};
pub use manifest::{
    DirMeta, Entry, Header, MAX_LINE_BYTES, Manifest, ManifestError, ManifestReader,
    ManifestWriter, Record, WriteError,
};
pub use name::{PackageName, PackageNameError};
pub use object_hash::{
    BASE_CHUNK_SIZE, ChunkedSha256Hasher, Crc64NvmeHasher, HashError, HashType, MAX_CHUNKS,
    ObjectHash, ObjectHasher, Sha256Hasher, chunk_count, chunk_size,
};
pub use physical_key::{PhysicalKey, PhysicalKeyError};
pub use registry::RegistryKey;
pub use top_hash::{TopHash, TopHashError, TopHasher};
