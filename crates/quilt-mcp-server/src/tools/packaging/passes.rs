//! The blocking passes over a streamed manifest, each reading it once in constant memory (on a
//! blocking thread, through `stream.rs`): the browse scan (a page of entries, counts, the top
//! hash recomputed), the lookup of keys to remove, the update's merge into a new manifest file,
//! and the diff of two manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use quilt_package::{
    Change, Entry, Header, JsonObject, JsonValue, LogicalKey, ManifestError, ManifestReader,
    ManifestWriter, Record, TopHash, TopHasher, changes,
};

use super::args::{manifest_error, write_error};
use super::schema::DiffOutput;
use super::{MAX_BROWSE_BYTES, MAX_DIFF_KEYS};
use crate::tool_error::ToolError;

pub(super) struct Scan {
    pub(super) header: Header,
    pub(super) top_hash: TopHash,
    pub(super) entries: Vec<Entry>,
    pub(super) total: u64,
    pub(super) matched: u64,
    pub(super) matched_bytes: u64,
}

pub(super) fn scan_manifest(
    lines: impl BufRead,
    prefix: &str,
    limit: usize,
    what: &str,
) -> Result<Scan, ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let header = reader.header().clone();
    let mut hasher = TopHasher::new(&header);
    let (mut entries, mut total, mut matched, mut matched_bytes) = (Vec::new(), 0, 0, 0);
    let mut held = 0usize;
    let mut full = false;
    for e in reader.entries() {
        let e = e.map_err(|e| manifest_error(what, e))?;
        hasher
            .push(&e)
            .map_err(|e| manifest_error(what, ManifestError::KeySet { line: 0, source: e }))?;
        total += 1;
        if e.logical_key.as_str().starts_with(prefix) {
            matched += 1;
            matched_bytes += e.size;
            if entries.len() < limit && !full {
                let size = entry_bytes(&e);
                if entries.is_empty() || held + size <= MAX_BROWSE_BYTES {
                    held += size;
                    entries.push(e);
                } else {
                    // Later entries are counted, not held: the page is full.
                    full = true;
                }
            }
        }
    }
    Ok(Scan {
        header,
        top_hash: hasher.finish(),
        entries,
        total,
        matched,
        matched_bytes,
    })
}

/// About how many bytes an entry takes, as its manifest line does.
fn entry_bytes(e: &Entry) -> usize {
    e.logical_key.as_str().len()
        + e.physical_keys.iter().map(String::len).sum::<usize>()
        + e.hash.value.len()
        + JsonValue::Object(e.meta.clone()).to_quilt_string().len()
        + 64
}

pub(super) fn find_keys(
    lines: impl BufRead,
    wanted: &[LogicalKey],
    what: &str,
) -> Result<BTreeSet<LogicalKey>, ToolError> {
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let mut found = BTreeSet::new();
    for e in reader.entries() {
        let e = e.map_err(|e| manifest_error(what, e))?;
        if wanted.binary_search(&e.logical_key).is_ok() {
            found.insert(e.logical_key);
        }
    }
    Ok(found)
}

pub(super) struct Merged {
    pub(super) top_hash: TopHash,
    pub(super) entries: u64,
    pub(super) added: u64,
    pub(super) replaced: u64,
    pub(super) removed: u64,
}

/// What an update changes in its base revision.
pub(super) struct Edits {
    /// New entries, and entries replacing the base's under the same logical key.
    pub(super) new: BTreeMap<LogicalKey, Entry>,
    /// Logical keys left out.
    pub(super) remove: BTreeSet<LogicalKey>,
    /// Merged into the package's `user_meta`.
    pub(super) merge: Option<JsonObject>,
    /// The new revision's message.
    pub(super) message: Option<String>,
    /// The workflow record (`None` removes it).
    pub(super) workflow: Option<JsonValue>,
}

/// Streams the old manifest into a new one at `path`: new entries merged in walk order,
/// removed ones left out, `merge` merged into `user_meta`, the workflow record and the
/// message set.
pub(super) fn merge_manifest(
    lines: impl BufRead,
    path: &std::path::Path,
    edits: Edits,
    what: &str,
) -> Result<Merged, ToolError> {
    let Edits {
        mut new,
        remove,
        merge,
        message,
        workflow,
    } = edits;
    let reader = ManifestReader::new(lines).map_err(|e| manifest_error(what, e))?;
    let mut header = reader.header().clone();
    if let Some(m) = merge {
        let mut meta = match header.user_meta() {
            Some(JsonValue::Object(o)) => o.clone(),
            _ => JsonObject::new(),
        };
        for (k, v) in m.iter() {
            meta.insert(k, v.clone());
        }
        header.set_user_meta(Some(JsonValue::from(meta)));
    }
    // quilt3 sets or pops `workflow` in place (an existing field keeps its position).
    header.set_workflow(workflow);
    header.set_message(message.as_deref());
    let file = std::fs::File::create(path)
        .map_err(|e| ToolError::internal(format!("cannot write a temporary manifest: {e}")))?;
    let mut w = ManifestWriter::new(std::io::BufWriter::new(file), &header).map_err(write_error)?;
    let mut n = Merged {
        top_hash: TopHasher::new(&header).finish(),
        entries: 0,
        added: 0,
        replaced: 0,
        removed: 0,
    };
    for record in reader {
        match record.map_err(|e| manifest_error(what, e))? {
            Record::Dir(d) => w.write_dir(&d).map_err(write_error)?,
            Record::Entry(old) => {
                emit_new_before(&mut w, &mut new, Some(&old.logical_key), &mut n)?;
                if remove.contains(&old.logical_key) {
                    n.removed += 1;
                    continue;
                }
                match new.remove(&old.logical_key) {
                    Some(e) => {
                        w.write_entry(&e).map_err(write_error)?;
                        n.replaced += 1;
                    }
                    None => w.write_entry(&old).map_err(write_error)?,
                }
                n.entries += 1;
            }
        }
    }
    emit_new_before(&mut w, &mut new, None, &mut n)?;
    let (out, top_hash) = w.finish().map_err(write_error)?;
    drop(out);
    n.top_hash = top_hash;
    Ok(n)
}

/// Writes the new entries that come before `key` in walk order (all of them for `None`).
fn emit_new_before<W: std::io::Write>(
    w: &mut ManifestWriter<W>,
    new: &mut BTreeMap<LogicalKey, Entry>,
    key: Option<&LogicalKey>,
    n: &mut Merged,
) -> Result<(), ToolError> {
    while let Some(first) = new.first_key_value().map(|(k, _)| k.clone()) {
        if key.is_some_and(|k| first >= *k) {
            break;
        }
        if let Some(e) = new.remove(&first) {
            w.write_entry(&e).map_err(write_error)?;
            n.entries += 1;
            n.added += 1;
        }
    }
    Ok(())
}

/// `package_diff` over two streamed manifests: quilt-package's [`changes`] (the one definition
/// of added, removed and modified), with the counts of each kind and at most `MAX_DIFF_KEYS`
/// keys listed per kind.
pub(super) fn diff_streams(
    r1: impl BufRead,
    r2: impl BufRead,
    what1: &str,
    what2: &str,
) -> Result<DiffOutput, ToolError> {
    let m1 = ManifestReader::new(r1).map_err(|e| manifest_error(what1, e))?;
    let m2 = ManifestReader::new(r2).map_err(|e| manifest_error(what2, e))?;
    let metadata_changed = m1.header().user_meta() != m2.header().user_meta();
    let a = m1
        .entries()
        .map(|r| r.map_err(|e| manifest_error(what1, e)));
    let b = m2
        .entries()
        .map(|r| r.map_err(|e| manifest_error(what2, e)));
    let mut out = DiffOutput {
        package1_hash: String::new(),
        package2_hash: String::new(),
        added: Vec::new(),
        removed: Vec::new(),
        modified: Vec::new(),
        added_count: 0,
        removed_count: 0,
        modified_count: 0,
        metadata_changed,
        truncated: false,
        package1_catalog_url: None,
        package2_catalog_url: None,
    };
    let push = |list: &mut Vec<String>, count: &mut u64, truncated: &mut bool, k: LogicalKey| {
        *count += 1;
        if list.len() < MAX_DIFF_KEYS {
            list.push(k.into_string());
        } else {
            *truncated = true;
        }
    };
    for change in changes(a, b) {
        let (list, count, key) = match change? {
            Change::Added(k) => (&mut out.added, &mut out.added_count, k),
            Change::Removed(k) => (&mut out.removed, &mut out.removed_count, k),
            Change::Modified(m) => (&mut out.modified, &mut out.modified_count, m.logical_key),
        };
        push(list, count, &mut out.truncated, key);
    }
    Ok(out)
}
