//! Object hashes: the `hash` of a package entry, and streaming hashers that compute them.
//!
//! | type | value |
//! |---|---|
//! | `sha2-256-chunked` | base64 of `sha256(sha256(chunk_1) ‖ … ‖ sha256(chunk_n))` |
//! | `SHA256` (legacy) | lowercase hex of `sha256(object)` |
//! | `CRC64NVME` | base64 of the big-endian CRC-64/NVME of the whole object |
//!
//! Chunks are [`chunk_size`] bytes (8 MiB, doubled while there would be more than 10,000),
//! the last one shorter; an empty object has no chunks, so its value is `sha256("")`. This is
//! quilt3's `checksums.get_checksum_chunksize` and `calculate_multipart_checksum_bytes`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::json::{JsonObject, JsonValue};

/// First chunk size: 8 MiB.
pub const BASE_CHUNK_SIZE: u64 = 8 * 1024 * 1024;
/// S3's part limit, which the chunk count may not exceed.
pub const MAX_CHUNKS: u64 = 10_000;

/// The chunk size quilt3 uses for an object of `size` bytes (also the part size to use
/// for a multipart upload or copy whose S3 checksum should match).
pub fn chunk_size(size: u64) -> u64 {
    let mut chunk = BASE_CHUNK_SIZE;
    while size.div_ceil(chunk) > MAX_CHUNKS {
        chunk *= 2;
    }
    chunk
}

/// How many chunks an object of `size` bytes has (0 for an empty object).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(chunk_size(size))
}

/// The kind of an object hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HashType {
    /// `sha2-256-chunked`, what new entries use.
    Sha2256Chunked,
    /// `SHA256`, legacy whole-object SHA-256 in hex.
    Sha256,
    /// `CRC64NVME`, read and verify only.
    Crc64Nvme,
    /// A type this crate does not know; kept so the manifest still reads and writes.
    Other(String),
}

impl HashType {
    /// The manifest spelling.
    pub fn as_str(&self) -> &str {
        match self {
            HashType::Sha2256Chunked => "sha2-256-chunked",
            HashType::Sha256 => "SHA256",
            HashType::Crc64Nvme => "CRC64NVME",
            HashType::Other(s) => s,
        }
    }

    /// From the manifest spelling (exact, case-sensitive, as quilt3 compares it).
    pub fn parse(s: &str) -> Self {
        match s {
            "sha2-256-chunked" => HashType::Sha2256Chunked,
            "SHA256" => HashType::Sha256,
            "CRC64NVME" => HashType::Crc64Nvme,
            other => HashType::Other(other.to_owned()),
        }
    }
}

/// An entry's `hash` object.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectHash {
    /// `type`.
    pub hash_type: HashType,
    /// `value`.
    pub value: String,
    /// Any other fields of the `hash` object, kept (and hashed, as quilt3 hashes the whole
    /// object) and written after `value`.
    pub extra: JsonObject,
}

/// Why hashing or verifying failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The hash type has no hasher here.
    #[error("unsupported hash type {0:?}")]
    Unsupported(String),
    /// A sized hasher saw a different number of bytes than announced.
    #[error("expected {expected} bytes, hashed {actual}")]
    SizeMismatch {
        /// Announced size.
        expected: u64,
        /// Bytes seen.
        actual: u64,
    },
}

impl ObjectHash {
    /// A hash with no extra fields.
    pub fn new(hash_type: HashType, value: impl Into<String>) -> Self {
        ObjectHash {
            hash_type,
            value: value.into(),
            extra: JsonObject::new(),
        }
    }

    /// `sha2-256-chunked` of bytes in memory.
    pub fn sha2_256_chunked(data: &[u8]) -> Self {
        let mut h = ChunkedSha256Hasher::new(data.len() as u64);
        h.update(data);
        h.finish_unchecked()
    }

    /// A hasher of this hash's type for an object of `size` bytes; compare its result
    /// with `self` to verify the bytes.
    pub fn hasher(&self, size: u64) -> Result<ObjectHasher, HashError> {
        ObjectHasher::new(&self.hash_type, size)
    }

    /// Whether `other` has the same type and value (extra fields ignored).
    pub fn same_digest(&self, other: &ObjectHash) -> bool {
        self.hash_type == other.hash_type && self.value == other.value
    }

    /// The `sha2-256-chunked` hash from S3's `ChecksumSHA256` of an object uploaded in one
    /// part (a full-object checksum, no `-N` suffix).
    ///
    /// Exact only when the object is at most one chunk: `None` for objects over 8 MiB,
    /// where the full-object SHA-256 says nothing about the chunk digests. An empty object's
    /// value is the S3 checksum itself (no chunks); a one-chunk object's is the S3 checksum
    /// hashed once more. (quilt3: `_simple_s3_to_quilt_checksum`.)
    pub fn from_s3_full_object_sha256(checksum: &str, size: u64) -> Option<Self> {
        if checksum.contains('-') || size > BASE_CHUNK_SIZE {
            return None;
        }
        let digest = STANDARD.decode(checksum).ok().filter(|d| d.len() == 32)?;
        let value = if size == 0 {
            STANDARD.encode(&digest)
        } else {
            STANDARD.encode(Sha256::digest(&digest))
        };
        Some(ObjectHash::new(HashType::Sha2256Chunked, value))
    }

    /// The `sha2-256-chunked` hash from S3's composite `ChecksumSHA256` (`<base64>-<n>`) of
    /// a multipart upload or copy with the given part sizes.
    ///
    /// Exact only when the parts are exactly quilt3's chunks (every part [`chunk_size`]
    /// bytes but the last, which is 1..=chunk size): then S3's composite is the same
    /// digest. `None` otherwise — the part count alone is not enough, since other part
    /// sizes give a different digest with the same count.
    pub fn from_s3_composite_sha256(checksum: &str, part_sizes: &[u64]) -> Option<Self> {
        let (b64, n) = checksum.rsplit_once('-')?;
        let total: u64 = part_sizes.iter().sum();
        let chunk = chunk_size(total);
        let (last, rest) = part_sizes.split_last()?;
        let parts_are_chunks = n.parse::<usize>().ok() == Some(part_sizes.len())
            && rest.iter().all(|p| *p == chunk)
            && (1..=chunk).contains(last);
        let digest = STANDARD.decode(b64).ok().filter(|d| d.len() == 32)?;
        parts_are_chunks.then(|| ObjectHash::new(HashType::Sha2256Chunked, STANDARD.encode(digest)))
    }

    /// S3's composite `ChecksumSHA256` (`<value>-<n>`) for a multipart upload of `size`
    /// bytes whose parts are exactly quilt3's chunks. `None` for other hash types and
    /// for an empty object (S3 has no zero-part upload). A single-part `PutObject`'s
    /// checksum cannot be derived from this value (it would mean inverting SHA-256).
    pub fn to_s3_composite_sha256(&self, size: u64) -> Option<String> {
        (self.hash_type == HashType::Sha2256Chunked && size > 0)
            .then(|| format!("{}-{}", self.value, chunk_count(size)))
    }

    /// The `CRC64NVME` hash from S3's `ChecksumCRC64NVME`: always exact, since S3's
    /// CRC-64/NVME is a full-object checksum even for multipart uploads, like quilt3's.
    pub fn from_s3_crc64nvme(checksum: &str) -> Self {
        ObjectHash::new(HashType::Crc64Nvme, checksum)
    }

    pub(crate) fn to_json(&self) -> JsonObject {
        let mut o = JsonObject::new();
        o.insert("type", self.hash_type.as_str());
        o.insert("value", self.value.as_str());
        for (k, v) in self.extra.iter() {
            o.insert(k, v.clone());
        }
        o
    }

    pub(crate) fn from_json(mut o: JsonObject) -> Result<Self, &'static str> {
        let hash_type = match o.remove("type") {
            Some(JsonValue::String(s)) => HashType::parse(&s),
            Some(_) => return Err("hash.type must be a string"),
            None => return Err("hash.type is missing"),
        };
        let value = match o.remove("value") {
            Some(JsonValue::String(s)) => s,
            Some(_) => return Err("hash.value must be a string"),
            None => return Err("hash.value is missing"),
        };
        Ok(ObjectHash {
            hash_type,
            value,
            extra: o,
        })
    }
}

/// Streaming `sha2-256-chunked`. Needs the object size up front, since it decides the
/// chunk size; memory is constant.
#[derive(Clone, Debug)]
pub struct ChunkedSha256Hasher {
    expected: u64,
    chunk_size: u64,
    seen: u64,
    in_chunk: u64,
    chunk: Sha256,
    outer: Sha256,
}

impl ChunkedSha256Hasher {
    /// A hasher for an object of `size` bytes.
    pub fn new(size: u64) -> Self {
        ChunkedSha256Hasher {
            expected: size,
            chunk_size: chunk_size(size),
            seen: 0,
            in_chunk: 0,
            chunk: Sha256::new(),
            outer: Sha256::new(),
        }
    }

    /// Feeds bytes (any split).
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = usize::try_from(self.chunk_size - self.in_chunk).unwrap_or(usize::MAX);
            let (now, later) = data.split_at(room.min(data.len()));
            self.chunk.update(now);
            self.in_chunk += now.len() as u64;
            self.seen += now.len() as u64;
            if self.in_chunk == self.chunk_size {
                self.close_chunk();
            }
            data = later;
        }
    }

    fn close_chunk(&mut self) {
        let digest = std::mem::take(&mut self.chunk).finalize();
        self.outer.update(digest);
        self.in_chunk = 0;
    }

    /// The hash, or [`HashError::SizeMismatch`] when the bytes fed differ from the size.
    pub fn finish(self) -> Result<ObjectHash, HashError> {
        if self.seen != self.expected {
            return Err(HashError::SizeMismatch {
                expected: self.expected,
                actual: self.seen,
            });
        }
        Ok(self.finish_unchecked())
    }

    fn finish_unchecked(mut self) -> ObjectHash {
        if self.in_chunk > 0 {
            self.close_chunk();
        }
        ObjectHash::new(
            HashType::Sha2256Chunked,
            STANDARD.encode(self.outer.finalize()),
        )
    }
}

/// Streaming legacy `SHA256` (hex of the whole object's SHA-256).
#[derive(Clone, Debug, Default)]
pub struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    /// A new hasher.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// The hash.
    pub fn finish(self) -> ObjectHash {
        let digest = self.0.finalize();
        let mut hex = String::with_capacity(64);
        for b in digest.iter() {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        ObjectHash::new(HashType::Sha256, hex)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Streaming `CRC64NVME` (base64 of the big-endian CRC-64/NVME), via `crc-fast`, the
/// implementation the AWS SDK's checksums use.
#[derive(Clone)]
pub struct Crc64NvmeHasher(crc_fast::Digest);

impl Default for Crc64NvmeHasher {
    fn default() -> Self {
        Crc64NvmeHasher(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
    }
}

impl std::fmt::Debug for Crc64NvmeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crc64NvmeHasher")
    }
}

impl Crc64NvmeHasher {
    /// A new hasher.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// The hash.
    pub fn finish(self) -> ObjectHash {
        ObjectHash::new(
            HashType::Crc64Nvme,
            STANDARD.encode(self.0.finalize().to_be_bytes()),
        )
    }
}

/// A hasher of any supported type, for verifying an entry whatever its hash type.
#[derive(Debug, Clone)]
pub enum ObjectHasher {
    /// `sha2-256-chunked`.
    Sha2256Chunked(ChunkedSha256Hasher),
    /// `SHA256`.
    Sha256(Sha256Hasher),
    /// `CRC64NVME`.
    Crc64Nvme(Crc64NvmeHasher),
}

impl ObjectHasher {
    /// A hasher of `hash_type` for an object of `size` bytes.
    pub fn new(hash_type: &HashType, size: u64) -> Result<Self, HashError> {
        Ok(match hash_type {
            HashType::Sha2256Chunked => {
                ObjectHasher::Sha2256Chunked(ChunkedSha256Hasher::new(size))
            }
            HashType::Sha256 => ObjectHasher::Sha256(Sha256Hasher::new()),
            HashType::Crc64Nvme => ObjectHasher::Crc64Nvme(Crc64NvmeHasher::new()),
            HashType::Other(t) => return Err(HashError::Unsupported(t.clone())),
        })
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ObjectHasher::Sha2256Chunked(h) => h.update(data),
            ObjectHasher::Sha256(h) => h.update(data),
            ObjectHasher::Crc64Nvme(h) => h.update(data),
        }
    }

    /// The hash (chunked: fails when the byte count differs from the announced size).
    pub fn finish(self) -> Result<ObjectHash, HashError> {
        match self {
            ObjectHasher::Sha2256Chunked(h) => h.finish(),
            ObjectHasher::Sha256(h) => Ok(h.finish()),
            ObjectHasher::Crc64Nvme(h) => Ok(h.finish()),
        }
    }
}
