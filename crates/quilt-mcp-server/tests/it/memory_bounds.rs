//! Memory bounded by bytes, not only by count, on the shipped binary (its own process, so its
//! memory is its own): browsing a package whose manifest lines are ~0.9 MB each holds one page
//! of at most 4 MiB of entries, however many entries match, and the server's peak RSS grows by
//! less than the stated bound while the manifest is ten times that; a pointer object larger
//! than a pointer is refused (`too_large`) rather than read.

use quilt_package::{
    Entry, HashType, Header, JsonObject, LogicalKey, ManifestWriter, ObjectHash, PackageName,
    PhysicalKey, registry,
};
use serde_json::{Value, json};

use crate::moto::*;
use crate::support::*;

/// Growth of the server's peak RSS allowed while browsing (the stated bound).
const RSS_BOUND_MIB: u64 = 48;
/// Entries in the manifest, and the metadata each carries.
const ENTRIES: usize = 64;
const META_CHARS: usize = 900_000;

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A manifest of `ENTRIES` entries with ~0.9 MB of metadata each, and its top hash.
fn big_manifest() -> (Vec<u8>, quilt_package::TopHash) {
    let mut writer = ManifestWriter::new(Vec::new(), &Header::new()).expect("writer");
    for i in 0..ENTRIES {
        let mut user = JsonObject::new();
        user.insert("blob", format!("{i:04}{}", "m".repeat(META_CHARS)));
        let mut meta = JsonObject::new();
        meta.insert("user_meta", user);
        let entry = Entry::new(
            LogicalKey::new(format!("data/f{i:04}.bin")).expect("key"),
            &PhysicalKey::parse(&format!("s3://src/f{i:04}.bin")).expect("pk"),
            1,
            ObjectHash::new(HashType::Sha256, "ab".repeat(32)),
            meta,
        );
        writer.write_entry(&entry).expect("entry");
    }
    writer.finish().expect("finish")
}

#[tokio::test]
async fn browsing_a_manifest_of_megabyte_lines_keeps_memory_bounded() {
    let moto = Moto::start().await;
    let s3 = moto.s3();
    s3.create_bucket()
        .bucket("reg")
        .send()
        .await
        .expect("bucket");
    let (manifest, hash) = big_manifest();
    let name = PackageName::new("big/meta").expect("name");
    for (key, body) in [
        (registry::manifest_key(&hash), manifest.clone()),
        (
            registry::latest_pointer_key(&name),
            registry::pointer_body(&hash).into_bytes(),
        ),
        // A "pointer" of 2 MB: must be refused, not read.
        (
            registry::latest_pointer_key(&PackageName::new("big/pointer").expect("name")),
            vec![b'a'; 2 * 1024 * 1024],
        ),
    ] {
        s3.put_object()
            .bucket("reg")
            .key(&key)
            .content_type("application/octet-stream")
            .body(body.into())
            .send()
            .await
            .expect("put");
    }

    let role = moto.role("BrowseBig", "*", allow_all()).await;
    let (mut child, pid, base) = spawn_stack_role_binary(&moto.url, &role, &[]).await;
    let mcp = format!("{base}/mcp");
    let browse = |args: Value| {
        let mcp = mcp.clone();
        async move {
            let r = call_tool(&mcp, Some(&token("ana")), "package_browse", args).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.result().clone()
        }
    };
    // Warm up on a small answer (the oversized pointer), then take the baseline.
    let refused = browse(json!({"registry": "s3://reg", "package_name": "big/pointer"})).await;
    assert_eq!(
        refused["structuredContent"]["error"]["code"], "too_large",
        "{refused}"
    );
    let before = peak_rss_kib(pid);

    let r =
        browse(json!({"registry": "s3://reg", "package_name": "big/meta", "max_entries": 10000}))
            .await;
    let s = &r["structuredContent"];
    assert_eq!(
        r["isError"],
        false,
        "{}",
        &r.to_string()[..500.min(r.to_string().len())]
    );
    let shown = s["entries"].as_array().expect("entries");
    assert_eq!(s["matched_entries"], ENTRIES, "every entry counted");
    assert_eq!(s["truncated"], true);
    assert!(
        !shown.is_empty() && shown.len() <= 5,
        "a page of at most 4 MiB of entries: {} shown",
        shown.len()
    );
    assert_eq!(shown[0]["logical_key"], "data/f0000.bin");
    // A single entry larger than nothing is still returned (the page never stalls).
    let one = browse(json!({"registry": "s3://reg", "package_name": "big/meta", "max_entries": 1, "prefix": "data/f0063"})).await;
    assert_eq!(
        one["structuredContent"]["entries"]
            .as_array()
            .expect("entries")
            .len(),
        1
    );

    let after = peak_rss_kib(pid);
    let grew_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "browse of a {} MiB manifest ({ENTRIES} lines of ~{} KB): {} entries returned; peak RSS {before} KiB -> {after} KiB (+{grew_mib} MiB, bound {RSS_BOUND_MIB} MiB)",
        manifest.len() >> 20,
        META_CHARS / 1000,
        shown.len()
    );
    assert!(
        grew_mib < RSS_BOUND_MIB,
        "peak RSS grew by {grew_mib} MiB browsing a {} MiB manifest",
        manifest.len() >> 20
    );
    child.kill().await.expect("kill");
}
