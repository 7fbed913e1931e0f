#!/usr/bin/env python3
"""quilt3 as the reference reader/writer for the quilt-package crate and the packaging tools.

Run with the project venv (`make venv`): `.venv/bin/python tests/python/quilt3_tool.py …`.
Every command prints one JSON object on stdout and exits 0 when it ran (per-entry
verification failures are reported in the JSON, not as an exit code); usage errors and
quilt3 exceptions exit non-zero with the message on stderr.

  tophash MANIFEST.jsonl [MORE.jsonl ...]
      quilt3's own top hash of a local manifest, and the SHA-256 of the bytes quilt3 writes
      when it dumps the loaded manifest again (equal to the file's when it is in quilt3's
      exact style): {"top_hash": "...", "entries": N, "dump_sha256": "..."};
      with several files: {"results": [{"path": ..., <the same fields>}, ...]}
  manifest --dir PATH --out FILE [--meta JSON] [--entry-meta JSON] [--message M]
      build a package from a local directory offline (hashes computed by quilt3, physical
      keys file:// URLs) and write quilt3's manifest to FILE: {"top_hash", "entries"}.
      --entry-meta sets the same user metadata on every entry.
  checksum FILE [--type sha2-256-chunked|SHA256|CRC64NVME]
      quilt3's object hash of a local file: {"type": "...", "value": "...", "size": N}
  browse --endpoint URL --registry s3://BUCKET --name USER/PKG [--top-hash H]
      load from an S3-compatible endpoint (latest, or H: full hash or prefix), then fetch
      every entry's bytes and run quilt3's hash verification on them:
      {"top_hash", "message", "user_meta", "entries": [{"logical_key", "size", "hash",
       "physical_key", "meta", "verified": true|false, "error": str|null}], "all_verified"}
  push --endpoint URL --registry s3://BUCKET --name USER/PKG --dir PATH
       [--meta JSON] [--message M] [--force]
      push a local directory as a package (quilt3 copies the files into the registry):
      {"top_hash", "entries"}. Against moto 5.2.5 keep every file under 8 MiB: quilt3
      uploads larger ones in parts and reads `ChecksumSHA256` from the
      CompleteMultipartUpload answer, which moto omits (KeyError). `browse` has no such
      limit (tested with a 21 MiB, versioned, percent-encoded object).

  workflow-matrix --endpoint URL --cells FILE
      push every cell of FILE (a JSON list; one quilt3 process for all of them) with
      `force=True` and report quilt3's verdict per cell, in order:
      [{"ok": true, "top_hash", "workflow"} | {"ok": false, "error"}]. A cell is
      {"registry", "name", "files": [{"logical_key", "path", "meta"?}], "meta"?, "message"?,
      "workflow"?}: an absent "workflow" is quilt3's default (`...`), null is None.

The AWS side follows the quilt3 rules of the shared TESTING.md: per-run XDG dirs and no cache or usage
metrics (set here before quilt3 is imported), an explicit registry on every call, never
`quilt3.config()` without arguments. With --endpoint, AWS_ENDPOINT_URL points boto3 at the
emulator and test credentials are used unless AWS_ACCESS_KEY_ID is already set.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile


def _prepare_env(endpoint):
    os.environ["QUILT_DISABLE_CACHE"] = "true"
    os.environ["QUILT_DISABLE_USAGE_METRICS"] = "true"
    os.environ["QUILT_MINIMIZE_STDOUT"] = "true"
    # quilt3 keeps config, auth and caches under the XDG dirs: a fresh set per run keeps a
    # developer's own quilt3 setup out of the tests and the tests out of it.
    run_dir = tempfile.mkdtemp(prefix="quilt3-tool-")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[var] = os.path.join(run_dir, var.lower())
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _registry(url):
    if not url.startswith("s3://"):
        raise SystemExit(f"--registry must be s3://bucket, got {url!r}")
    return url.rstrip("/")


def _tophash_one(path):
    import hashlib
    import io

    import quilt3

    with open(path, encoding="utf-8") as f:
        pkg = quilt3.Package.load(f)
    out = io.BytesIO()
    pkg.dump(out)
    return {
        "top_hash": pkg.top_hash,
        "entries": sum(1 for _ in pkg.walk()),
        "dump_sha256": hashlib.sha256(out.getvalue()).hexdigest(),
    }


def cmd_tophash(args):
    if len(args.manifest) == 1:
        return _tophash_one(args.manifest[0])
    return {"results": [{"path": p, **_tophash_one(p)} for p in args.manifest]}


def cmd_manifest(args):
    import quilt3

    pkg = quilt3.Package()
    pkg.set_dir("/", args.dir)
    if args.entry_meta is not None:
        entry_meta = json.loads(args.entry_meta)
        for _, entry in pkg.walk():
            entry.set_meta(entry_meta)
    if args.meta is not None:
        pkg.set_meta(json.loads(args.meta))
    pkg._calculate_missing_hashes()
    pkg._set_commit_message(args.message)
    with open(args.out, "w", encoding="utf-8") as f:
        pkg.dump(f)
    return {"top_hash": pkg.top_hash, "entries": sum(1 for _ in pkg.walk())}


def cmd_checksum(args):
    from quilt3 import checksums

    with open(args.file, "rb") as f:
        data = f.read()
    if args.type == checksums.SHA256_HASH_NAME:
        value = checksums.legacy_calculate_checksum_bytes(data)
    else:
        value = checksums.calculate_multipart_checksum_bytes(data, checksum_type=args.type)
    return {"type": args.type, "value": value, "size": len(data)}


def cmd_browse(args):
    import quilt3

    registry = _registry(args.registry)
    pkg = quilt3.Package.browse(args.name, registry=registry, top_hash=args.top_hash)
    entries = []
    for logical_key, entry in pkg.walk():
        item = {
            "logical_key": logical_key,
            "size": entry.size,
            "hash": entry.hash,
            "physical_key": str(entry.physical_key),
            "meta": entry.meta,
            "verified": False,
            "error": None,
        }
        try:
            data = entry.get_bytes(use_cache_if_available=False)
            if len(data) != entry.size:
                raise ValueError(f"size {len(data)} differs from the manifest's {entry.size}")
            # quilt3's own verification (what `deserialize` runs before decoding).
            entry._verify_hash(data)
            item["verified"] = True
        except Exception as e:  # reported per entry
            item["error"] = f"{type(e).__name__}: {e}"
        entries.append(item)
    return {
        "top_hash": pkg.top_hash,
        "message": pkg._meta.get("message"),
        "user_meta": pkg._meta.get("user_meta"),
        "entries": entries,
        "all_verified": all(e["verified"] for e in entries),
    }


def cmd_push(args):
    import quilt3

    registry = _registry(args.registry)
    pkg = quilt3.Package()
    pkg.set_dir("/", args.dir)
    if args.meta is not None:
        pkg.set_meta(json.loads(args.meta))
    pushed = pkg.push(args.name, registry=registry, message=args.message, force=args.force)
    return {"top_hash": pushed.top_hash, "entries": sum(1 for _ in pushed.walk())}


def cmd_workflow_matrix(args):
    import quilt3

    with open(args.cells, encoding="utf-8") as f:
        cells = json.load(f)
    results = []
    for cell in cells:
        pkg = quilt3.Package()
        for item in cell["files"]:
            pkg.set(item["logical_key"], item["path"], meta=item.get("meta"))
        if cell.get("meta") is not None:
            pkg.set_meta(cell["meta"])
        kwargs = {"workflow": cell["workflow"]} if "workflow" in cell else {}
        try:
            pushed = pkg.push(
                cell["name"],
                registry=_registry(cell["registry"]),
                message=cell.get("message"),
                force=True,
                **kwargs,
            )
            results.append({"ok": True, "top_hash": pushed.top_hash, "workflow": pushed._meta.get("workflow")})
        except Exception as e:  # quilt3's verdict, reported per cell
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    return {"results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tophash", help="quilt3's top hash of a local manifest")
    p.add_argument("manifest", nargs="+")
    p.set_defaults(func=cmd_tophash, endpoint=None)

    p = sub.add_parser("manifest", help="build a manifest from a local directory, offline")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--meta", default=None, help="package metadata, JSON")
    p.add_argument("--entry-meta", default=None, help="user metadata for every entry, JSON")
    p.add_argument("--message", default=None)
    p.set_defaults(func=cmd_manifest, endpoint=None)

    p = sub.add_parser("checksum", help="quilt3's object hash of a local file")
    p.add_argument("file")
    p.add_argument("--type", default="sha2-256-chunked", choices=["sha2-256-chunked", "SHA256", "CRC64NVME"])
    p.set_defaults(func=cmd_checksum, endpoint=None)

    for name, func in (("browse", cmd_browse), ("push", cmd_push)):
        p = sub.add_parser(name)
        p.add_argument("--endpoint", required=True, help="S3-compatible endpoint, e.g. http://127.0.0.1:PORT")
        p.add_argument("--registry", required=True, help="s3://bucket")
        p.add_argument("--name", required=True, help="user/pkg")
        p.set_defaults(func=func)
        if name == "browse":
            p.add_argument("--top-hash", default=None, help="full top hash or a prefix (default: latest)")
        else:
            p.add_argument("--dir", required=True)
            p.add_argument("--meta", default=None, help="package metadata, JSON")
            p.add_argument("--message", default=None)
            p.add_argument("--force", action="store_true", help="push even if latest moved")

    p = sub.add_parser("workflow-matrix", help="push many packages, quilt3's workflow verdict for each")
    p.add_argument("--endpoint", required=True, help="S3-compatible endpoint, e.g. http://127.0.0.1:PORT")
    p.add_argument("--cells", required=True, help="JSON file: the cells")
    p.set_defaults(func=cmd_workflow_matrix)

    args = parser.parse_args(argv)
    _prepare_env(args.endpoint)
    # quilt3 prints progress on stdout: keep stdout for the one JSON result.
    with contextlib.redirect_stdout(sys.stderr):
        result = args.func(args)
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
