//! Object hashes against the reference values, a multi-chunk object, the chunk-size rule,
//! and the S3 checksum conversions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use quilt_package::{
    BASE_CHUNK_SIZE, ChunkedSha256Hasher, Crc64NvmeHasher, HashError, HashType, ObjectHash,
    Sha256Hasher, chunk_count, chunk_size,
};
use sha2::{Digest as _, Sha256};

/// Deterministic bytes (no RNG dependency): a simple LCG.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn reference_values() {
    assert_eq!(
        ObjectHash::sha2_256_chunked(b"hello world").value,
        "vGLUuA2eNtopwWxdTZ8Rcx82BSxyQBp2wjwPtam3RCM="
    );
    assert_eq!(
        ObjectHash::sha2_256_chunked(b"# Hello\n").value,
        "EgUm216GAeuv4B2DIlnX2c0vtMCGAFPG0z3+1+uwjac="
    );
    assert_eq!(
        ObjectHash::sha2_256_chunked(b"").value,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    let mut h = Sha256Hasher::new();
    h.update(b"B\n");
    assert_eq!(
        h.finish().value,
        "c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6"
    );
    let mut h = Crc64NvmeHasher::new();
    h.update(b"dot\n");
    assert_eq!(h.finish().value, "8zDTwjDsOKA=");
}

#[test]
fn empty_object_has_zero_chunks() {
    assert_eq!(chunk_count(0), 0);
    let h = ChunkedSha256Hasher::new(0);
    assert_eq!(
        h.finish().expect("empty").value,
        STANDARD.encode(Sha256::digest(b""))
    );
}

#[test]
fn multi_chunk_object_hashes_its_chunk_digests() {
    let size = 2 * BASE_CHUNK_SIZE as usize + 12_345;
    let data = pattern(size);
    let mut outer = Sha256::new();
    for chunk in data.chunks(BASE_CHUNK_SIZE as usize) {
        outer.update(Sha256::digest(chunk));
    }
    let want = STANDARD.encode(outer.finalize());
    let mut h = ChunkedSha256Hasher::new(size as u64);
    // Pieces that straddle chunk boundaries.
    for piece in data.chunks(1_000_003) {
        h.update(piece);
    }
    let got = h.finish().expect("size matches");
    assert_eq!(got.value, want);
    assert_eq!(got.hash_type, HashType::Sha2256Chunked);
    assert_eq!(chunk_count(size as u64), 3);
    // Exactly at a chunk boundary: two full chunks, no empty third.
    let data = &data[..2 * BASE_CHUNK_SIZE as usize];
    let want = {
        let mut outer = Sha256::new();
        for chunk in data.chunks(BASE_CHUNK_SIZE as usize) {
            outer.update(Sha256::digest(chunk));
        }
        STANDARD.encode(outer.finalize())
    };
    assert_eq!(ObjectHash::sha2_256_chunked(data).value, want);
}

#[test]
fn chunk_size_doubles_past_ten_thousand_chunks() {
    assert_eq!(chunk_size(0), BASE_CHUNK_SIZE);
    assert_eq!(chunk_size(BASE_CHUNK_SIZE * 10_000), BASE_CHUNK_SIZE);
    assert_eq!(
        chunk_size(BASE_CHUNK_SIZE * 10_000 + 1),
        2 * BASE_CHUNK_SIZE
    );
    assert_eq!(
        chunk_size(BASE_CHUNK_SIZE * 40_000 + 1),
        8 * BASE_CHUNK_SIZE
    );
    assert_eq!(chunk_count(BASE_CHUNK_SIZE * 10_000 + 1), 5_001);
}

#[test]
fn hashing_the_wrong_number_of_bytes_is_a_size_mismatch() {
    let mut h = ChunkedSha256Hasher::new(5);
    h.update(b"abc");
    assert_eq!(
        h.finish(),
        Err(HashError::SizeMismatch {
            expected: 5,
            actual: 3
        })
    );
    let unknown = ObjectHash::new(HashType::parse("MD5"), "x");
    assert!(matches!(unknown.hasher(1), Err(HashError::Unsupported(t)) if t == "MD5"));
}

#[test]
fn s3_sha256_checksums_convert_where_exact() {
    let data = b"hello world";
    let s3_full = STANDARD.encode(Sha256::digest(data));
    let quilt = ObjectHash::sha2_256_chunked(data);
    assert_eq!(
        ObjectHash::from_s3_full_object_sha256(&s3_full, data.len() as u64),
        Some(quilt.clone())
    );
    // Empty: the S3 checksum is the value (no chunks to hash again).
    let empty = STANDARD.encode(Sha256::digest(b""));
    assert_eq!(
        ObjectHash::from_s3_full_object_sha256(&empty, 0).map(|h| h.value),
        Some(empty)
    );
    // Over one chunk a full-object checksum says nothing about the chunks.
    assert_eq!(
        ObjectHash::from_s3_full_object_sha256(&s3_full, BASE_CHUNK_SIZE + 1),
        None
    );

    // A composite checksum is exact when the parts are the chunks.
    let size = 2 * BASE_CHUNK_SIZE + 10;
    let composite = format!("{}-3", quilt.value);
    let parts = [BASE_CHUNK_SIZE, BASE_CHUNK_SIZE, 10];
    let got = ObjectHash::from_s3_composite_sha256(&composite, &parts).expect("parts are chunks");
    assert_eq!(got.value, quilt.value);
    assert_eq!(got.to_s3_composite_sha256(size), Some(composite.clone()));
    assert_eq!(
        ObjectHash::from_s3_composite_sha256(
            &composite,
            &[BASE_CHUNK_SIZE + 5, BASE_CHUNK_SIZE - 5, 10]
        ),
        None
    );
    assert_eq!(
        ObjectHash::from_s3_composite_sha256(&composite, &[BASE_CHUNK_SIZE, BASE_CHUNK_SIZE]),
        None
    );
    assert_eq!(
        ObjectHash::from_s3_composite_sha256(&quilt.value, &parts),
        None
    );
    assert_eq!(
        ObjectHash::from_s3_crc64nvme("8zDTwjDsOKA=").hash_type,
        HashType::Crc64Nvme
    );
}
