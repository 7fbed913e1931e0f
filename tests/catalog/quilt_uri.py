"""Resolves a ``quilt+s3://`` URI the way the Quilt catalog reads it, then opens that
revision and entry with quilt3 (quilt3 8 has no parser for these URIs).

``python quilt_uri.py --endpoint URL URI`` prints ``{"bucket", "name", "hash", "tag", "path",
"top_hash", "logical_key", "physical_key", "sha256", "text", "verified"}``: the parts parsed by the
catalog's published rules (``catalog/app/utils/PackageUri.ts``: ``package=`` holds
``name[@hash | :tag]``; the fragment is a query string whose values are percent-decoded once;
``path=`` and ``package=`` at most once; a bucket-root registry only), then what quilt3 finds
there: the revision's top hash and the entry's bytes (SHA-256, and quilt3's own hash check).
"""

import argparse
import hashlib
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import quilt3_tool  # noqa: E402  (per-run quilt3 environment)


def parse(uri):
    url = urllib.parse.urlsplit(uri)
    if url.scheme != "quilt+s3":
        raise SystemExit(f"unsupported protocol {url.scheme!r}")
    if not uri.startswith("quilt+s3://"):
        raise SystemExit("missing slashes between protocol and registry")
    if url.path or url.query:
        raise SystemExit("non-bucket-root registries are not supported")
    # The catalog re-escapes a stray "%" before decoding (as urllib's unquote leaves it).
    fragment = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url.fragment)
    params = urllib.parse.parse_qs(fragment, keep_blank_values=True)
    if len(params.get("package", [])) != 1:
        raise SystemExit('"package=" missing or given more than once')
    if len(params.get("path", [])) > 1:
        raise SystemExit('"path=" specified multiple times')
    spec = params["package"][0]
    name, hash_, tag = spec, None, None
    if ":" in spec and "@" in spec:
        raise SystemExit('"package=" part may either contain ":" or "@"')
    if "@" in spec:
        name, hash_ = spec.split("@")
    elif ":" in spec:
        name, tag = spec.split(":")
    path = params.get("path", [None])[0] or None
    return {"bucket": url.netloc, "name": name, "hash": hash_, "tag": tag, "path": path,
            "catalog": params.get("catalog", [None])[0]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("uri")
    args = parser.parse_args()
    parts = parse(args.uri)
    quilt3_tool._prepare_env(args.endpoint)
    import quilt3

    top_hash = parts["hash"]
    if parts["tag"] and parts["tag"] != "latest":
        raise SystemExit("only latest or a hash can be opened here")
    pkg = quilt3.Package.browse(parts["name"], registry=f"s3://{parts['bucket']}", top_hash=top_hash)
    out = dict(parts, top_hash=pkg.top_hash)
    if parts["path"]:
        entry = pkg[parts["path"]]
        data = entry.get_bytes(use_cache_if_available=False)
        entry._verify_hash(data)
        out.update(logical_key=parts["path"], physical_key=str(entry.physical_key),
                   sha256=hashlib.sha256(data).hexdigest(), text=data.decode("utf-8", "replace"), verified=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
