"""A stand-in for the Quilt catalog, for the server's tests (loopback only).

No Quilt catalog can run here; its public contract can. This process serves:

- ``GET /config.json``: the catalog configuration (``registryUrl`` is this process, so
  ``/graphql`` is served here too; ``tabulatorDataCatalog`` from ``--tabulator-catalog``).
- ``POST /graphql``: a real GraphQL engine (graphql-core) built from the catalog's schema file
  (``tests/catalog/quilt-catalog-schema.graphql``, a copy of the catalog's), so every document
  the server sends is parsed and validated against the catalog's real schema before any
  resolver runs. The bearer token is verified first: HS256 with the catalog's secret
  (``--secret``), ``exp`` required and checked without leeway; anything else is HTTP 401.
- ``GET /b/<bucket>/tree/<path>`` and ``GET /b/<bucket>/packages/<name>[/tree/<rev>/<path>]``:
  the catalog's web routes, resolved against moto and answered as JSON (what the page would
  show) or 404, so tests can open the catalog URLs the server builds.
- ``GET /__record``: every request seen (path, the bearer token or null, the GraphQL
  operation, whether the token was accepted), so tests can prove which tokens reached the
  catalog. ``POST /__control``: fault modes (``delay_s``, ``html``, ``graphql_error``,
  ``ignore_buckets``: search every bucket whatever the query asks, like a catalog that
  returns buckets the caller's grants exclude).

Administration (``admin { … }``, ``roles``, ``policies``, ``defaultRole``, ``roleSetDefault``,
``me``): users, roles, policies, the SSO configuration and Tabulator's open-query switch live
in this process (seeded: admin ``ann``, user ``bob``; roles ``ReadQuiltBucket`` (the default),
``ReadWriteQuiltBucket``, unmanaged ``LegacyRole``; policies ``ReadData``, ``WriteData``).
The schema's ``@admin`` fields refuse a caller who is not an admin with a GraphQL error
("Forbidden: …"), as the catalog does. The stand-in's own rules, answered through the
schema's error arms: an invalid email, an unknown role, a user name in use → ``InvalidInput``;
removing the admin flag of the last admin → ``OperationError`` ``LastAdmin``; SSO
configuration that is not a YAML mapping → ``InvalidInput``. ``GET /__admin`` shows the whole
admin state (and the password resets done), so tests read what the catalog holds.

Resolvers answer from moto's buckets and the Quilt packages in them. Search is plain
case-insensitive substring matching of every term (names, revision messages, package
metadata, entry logical keys; object keys) — it is NOT Elasticsearch and implements none of
its query syntax beyond refusing unbalanced quotes and parentheses (as a query syntax error,
through the schema's ``InvalidInput`` arm).

Run: ``python standin.py --moto-url URL --secret S [--buckets-file F] [--tabulator-catalog C]``;
prints ``{"port": N}`` on stdout once listening.
"""

import argparse
import base64
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import jwt
import yaml
from graphql import build_schema, graphql_sync

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quilt-catalog-schema.graphql")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        # One GraphQL execution at a time: admin mutations read and write `admin` together.
        self.admin_lock = threading.RLock()
        self.records = []
        self.control = {"delay_s": 0, "html": False, "graphql_error": False, "ignore_buckets": False}
        self.tables = {}  # bucket -> {name: config}
        self.cursors = {}
        self.bucket_configs = {}
        self.admin = seed_admin()
        if args.buckets_file:
            with open(args.buckets_file) as f:
                for b in json.load(f):
                    self.bucket_configs[b["name"]] = b
        self.s3 = boto3.client(
            "s3",
            endpoint_url=args.moto_url,
            region_name="us-east-1",
            aws_access_key_id="AKIASTANDINSTANDIN01",
            aws_secret_access_key="standin",
        )

    def record(self, entry):
        with self.lock:
            self.records.append(entry)


# --- reading moto ----------------------------------------------------------------------


def list_keys(s3, bucket, prefix=""):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(page.get("Contents", []))
    return keys


def read(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def package_revisions(s3, bucket):
    """[(name, pointer timestamp or 'latest', top hash)] from the registry's pointers."""
    out = []
    for obj in list_keys(s3, bucket, ".quilt/named_packages/"):
        rest = obj["Key"][len(".quilt/named_packages/"):]
        name, _, pointer = rest.rpartition("/")
        if name.count("/") != 1:
            continue
        out.append((name, pointer, read(s3, bucket, obj["Key"]).decode().strip(), obj["LastModified"]))
    return out


def manifest(s3, bucket, top_hash):
    lines = read(s3, bucket, f".quilt/packages/{top_hash}").decode().splitlines()
    header = json.loads(lines[0])
    entries = [json.loads(line) for line in lines[1:] if line.strip()]
    return header, entries


# --- search (plain matching, not Elasticsearch) ----------------------------------------


def syntax_error(search):
    if search.count('"') % 2:
        return "unbalanced quotes"
    depth = 0
    for c in search:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return "unbalanced parentheses"
    return "unbalanced parentheses" if depth else None


def terms(search):
    return [t.strip('"').lower() for t in search.split() if t.strip('"')]


def invalid_search(message):
    return {"__typename": "InvalidInput", "errors": [{"path": "searchString", "message": message, "name": "QuerySyntaxError", "context": None}]}


def page_of(state, kind, hits, size, offset=0):
    size = size or 30
    chunk = hits[offset:offset + size]
    cursor = None
    if offset + size < len(hits):
        cursor = base64.urlsafe_b64encode(os.urandom(9)).decode()
        with state.lock:
            state.cursors[cursor] = (kind, hits, offset + size)
    typename = "PackagesSearchResultSetPage" if kind == "packages" else "ObjectsSearchResultSetPage"
    return {"__typename": typename, "cursor": cursor, "hits": chunk}


def searchable_buckets(state, buckets):
    known = state.catalog_buckets()
    if state.control.get("ignore_buckets"):
        # A misbehaving catalog: answers from every bucket whatever was asked.
        return known
    return [b for b in (buckets if buckets is not None else known) if b in known]


def search_packages(state, buckets, search, latest_only):
    ts = terms(search)
    hits = []
    for bucket in searchable_buckets(state, buckets):
        revisions = package_revisions(state.s3, bucket)
        latest = {name: h for name, pointer, h, _ in revisions if pointer == "latest"}
        seen = set()
        for name, pointer, top_hash, modified in revisions:
            if pointer == "latest" or (name, top_hash) in seen:
                continue
            if latest_only and latest.get(name) != top_hash:
                continue
            seen.add((name, top_hash))
            header, entries = manifest(state.s3, bucket, top_hash)
            comment = header.get("message") or ""
            meta = json.dumps(header.get("user_meta") or {})
            matching = []
            ok = True
            in_name = in_comment = in_meta = False
            for t in ts:
                found = False
                if t in name.lower():
                    found = in_name = True
                if t in comment.lower():
                    found = in_comment = True
                if t in meta.lower():
                    found = in_meta = True
                for e in entries:
                    if t in e["logical_key"].lower():
                        found = True
                        if e not in matching:
                            matching.append(e)
                ok = ok and found
            if not ok:
                continue
            hits.append({
                "id": f"{bucket}/{name}@{top_hash}", "score": 1.0, "bucket": bucket, "name": name,
                "pointer": pointer, "hash": top_hash,
                "size": float(sum(e.get("size", 0) for e in entries)),
                "modified": modified.isoformat(), "totalEntriesCount": len(entries),
                "comment": header.get("message"), "meta": meta, "workflow": header.get("workflow"),
                "matchLocations": {"name": in_name, "comment": in_comment, "meta": in_meta, "workflow": False},
                "matchingEntries": [{
                    "logicalKey": e["logical_key"], "physicalKey": e["physical_keys"][0],
                    "size": float(e.get("size", 0)), "meta": json.dumps(e.get("meta")),
                    "matchLocations": {"logicalKey": True, "physicalKey": False, "meta": False, "contents": False},
                } for e in matching],
            })
    hits.sort(key=lambda h: (h["bucket"], h["name"], h["hash"]))
    return hits


def search_objects(state, buckets, search):
    ts = terms(search)
    hits = []
    for bucket in searchable_buckets(state, buckets):
        for obj in list_keys(state.s3, bucket):
            key = obj["Key"]
            if key.startswith(".quilt/") or not all(t in key.lower() for t in ts):
                continue
            hits.append({
                "id": f"{bucket}/{key}", "score": 1.0, "bucket": bucket, "key": key, "version": "",
                "size": float(obj["Size"]), "modified": obj["LastModified"].isoformat(), "deleted": False,
                "indexedContent": None,
            })
    return hits


# --- administration --------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOW = "2026-01-01T00:00:00+00:00"


def seed_admin():
    return {
        "users": {
            "ann": {"name": "ann", "email": "ann@example.com", "isActive": True, "isAdmin": True, "role": "ReadWriteQuiltBucket", "extraRoles": []},
            "bob": {"name": "bob", "email": "bob@example.com", "isActive": True, "isAdmin": False, "role": "ReadQuiltBucket", "extraRoles": []},
        },
        "roles": {
            "r-read": {"id": "r-read", "name": "ReadQuiltBucket", "arn": "arn:aws:iam::123456789012:role/ReadQuiltBucket", "policies": ["p-read"]},
            "r-rw": {"id": "r-rw", "name": "ReadWriteQuiltBucket", "arn": "arn:aws:iam::123456789012:role/ReadWriteQuiltBucket", "policies": ["p-read", "p-write"]},
            "r-legacy": {"id": "r-legacy", "name": "LegacyRole", "arn": "arn:aws:iam::123456789012:role/Legacy", "policies": None},
        },
        "policies": {
            "p-read": {"id": "p-read", "title": "ReadData", "arn": "arn:aws:iam::123456789012:policy/ReadData", "managed": True, "level": "READ"},
            "p-write": {"id": "p-write", "title": "WriteData", "arn": "arn:aws:iam::123456789012:policy/WriteData", "managed": True, "level": "READ_WRITE"},
        },
        "default_role": "r-read",
        "sso": None,
        "open_query": False,
        "password_resets": [],
    }


def invalid(path, name, message):
    return {"__typename": "InvalidInput", "errors": [{"path": path, "message": message, "name": name, "context": None}]}


class Admin:
    """Resolvers of the admin fields (queries and mutations share the root's `admin`)."""

    def __init__(self, state, caller):
        self.state = state
        self.a = state.admin
        self.caller = caller
        self.user = UserAdmin(self)

    def role_by_name(self, name):
        return next((r for r in self.a["roles"].values() if r["name"] == name), None)

    def policy(self, pid):
        p = self.a["policies"][pid]
        buckets = self.state.catalog_buckets()
        return {
            "__typename": "Policy", "id": p["id"], "title": p["title"], "arn": p["arn"], "managed": p["managed"],
            "permissions": [{"bucket": {"name": b}, "level": p["level"]} for b in buckets[:1]],
            "roles": lambda info: [self.role(r["id"]) for r in self.a["roles"].values() if pid in (r["policies"] or [])],
        }

    def role(self, rid):
        r = self.a["roles"][rid]
        if r["policies"] is None:
            return {"__typename": "UnmanagedRole", "id": r["id"], "name": r["name"], "arn": r["arn"]}
        return {
            "__typename": "ManagedRole", "id": r["id"], "name": r["name"], "arn": r["arn"],
            "policies": lambda info: [self.policy(p) for p in r["policies"]],
            "permissions": lambda info: [
                {"bucket": {"name": b}, "level": self.a["policies"][p]["level"]}
                for p in r["policies"] for b in self.state.catalog_buckets()[:1]
            ],
        }

    def user_view(self, u):
        role = self.role_by_name(u["role"])
        return {
            "__typename": "User", "name": u["name"], "email": u["email"], "dateJoined": NOW, "lastLogin": NOW,
            "isActive": u["isActive"], "isAdmin": u["isAdmin"], "isSsoOnly": False, "isService": False,
            "role": self.role(role["id"]) if role else None,
            "extraRoles": [self.role(self.role_by_name(n)["id"]) for n in u["extraRoles"]],
            "isRoleAssignmentDisabled": False, "isAdminAssignmentDisabled": False,
        }

    # AdminQueries
    def sso_view(self):
        sso = self.a["sso"]
        if sso is None:
            return None
        user = self.a["users"].get(sso["uploader"]) or {"name": sso["uploader"], "email": "", "isActive": True, "isAdmin": True, "role": None, "extraRoles": []}
        return {"__typename": "SsoConfig", "text": sso["text"], "timestamp": sso["timestamp"], "uploader": self.user_view(user)}

    def ssoConfig(self, info):
        return self.sso_view()

    def tabulatorOpenQuery(self, info):
        return self.a["open_query"]

    # AdminMutations
    def setSsoConfig(self, info, config=None):
        if config is None:
            self.a["sso"] = None
            return None
        try:
            data = yaml.safe_load(config)
        except yaml.YAMLError as e:
            return invalid("config", "InvalidYaml", f"not YAML: {e}")
        if not isinstance(data, dict):
            return invalid("config", "InvalidSsoConfig", "the SSO configuration must be a mapping")
        self.a["sso"] = {"text": config, "timestamp": NOW, "uploader": self.caller}
        return self.sso_view()

    def setTabulatorOpenQuery(self, info, enabled):
        self.a["open_query"] = enabled
        return {"tabulatorOpenQuery": enabled}


class UserAdmin:
    def __init__(self, admin):
        self.admin = admin

    def list(self, info):
        return [self.admin.user_view(u) for u in self.admin.a["users"].values()]

    def get(self, info, name):
        u = self.admin.a["users"].get(name)
        return self.admin.user_view(u) if u else None

    def create(self, info, input):
        a = self.admin
        if input["name"] in a.a["users"]:
            return invalid("input.name", "Conflict", f"user {input['name']} exists")
        if not EMAIL.match(input["email"]):
            return invalid("input.email", "InvalidEmail", "not a valid email address")
        for r in [input["role"]] + list(input.get("extraRoles") or []):
            if not a.role_by_name(r):
                return invalid("input.role", "RoleDoesNotExist", f"no role {r}")
        u = {"name": input["name"], "email": input["email"], "isActive": True, "isAdmin": False,
             "role": input["role"], "extraRoles": [r for r in (input.get("extraRoles") or []) if r != input["role"]]}
        a.a["users"][u["name"]] = u
        return a.user_view(u)

    def mutate(self, info, name):
        u = self.admin.a["users"].get(name)
        return MutateUser(self.admin, u) if u else None


class MutateUser:
    def __init__(self, admin, user):
        self.admin = admin
        self.u = user

    def _view(self):
        return self.admin.user_view(self.u)

    def _unknown_role(self, roles):
        return next((r for r in roles if not self.admin.role_by_name(r)), None)

    def delete(self, info):
        del self.admin.a["users"][self.u["name"]]
        return {"__typename": "Ok"}

    def resetPassword(self, info):
        self.admin.a["password_resets"].append(self.u["name"])
        return {"__typename": "Ok"}

    def setEmail(self, info, email):
        if not EMAIL.match(email):
            return invalid("email", "InvalidEmail", "not a valid email address")
        self.u["email"] = email
        return self._view()

    def setAdmin(self, info, admin):
        admins = [u for u in self.admin.a["users"].values() if u["isAdmin"]]
        if not admin and self.u["isAdmin"] and len(admins) == 1:
            return {"__typename": "OperationError", "name": "LastAdmin", "message": "cannot remove the admin flag of the last admin", "context": None}
        self.u["isAdmin"] = admin
        return self._view()

    def setActive(self, info, active):
        self.u["isActive"] = active
        return self._view()

    def setRole(self, info, role, extraRoles=None, append=False):
        missing = self._unknown_role([role] + list(extraRoles or []))
        if missing:
            return invalid("role", "RoleDoesNotExist", f"no role {missing}")
        extra = list(self.u["extraRoles"]) if append else []
        for r in extraRoles or []:
            if r not in extra:
                extra.append(r)
        self.u["role"] = role
        self.u["extraRoles"] = [r for r in extra if r != role]
        return self._view()

    def addRoles(self, info, roles):
        missing = self._unknown_role(roles)
        if missing:
            return invalid("roles", "RoleDoesNotExist", f"no role {missing}")
        for r in roles:
            if r != self.u["role"] and r not in self.u["extraRoles"]:
                self.u["extraRoles"].append(r)
        return self._view()

    def removeRoles(self, info, roles, fallback=None):
        if self.u["role"] in roles:
            if not fallback or not self.admin.role_by_name(fallback):
                return invalid("fallback", "FallbackRequired", "the active role is removed: name an existing fallback role")
            self.u["role"] = fallback
        self.u["extraRoles"] = [r for r in self.u["extraRoles"] if r not in roles and r != self.u["role"]]
        return self._view()


# --- GraphQL root ----------------------------------------------------------------------


def tabulator_config_error(config):
    try:
        data = yaml.safe_load(config)
    except yaml.YAMLError as e:
        return f"config is not YAML: {e}"
    if not isinstance(data, dict) or "schema" not in data or "source" not in data or "parser" not in data:
        return "config must have schema, source and parser"
    return None


class Root:
    def __init__(self, state, caller=None):
        self.state = state
        self.caller = caller

    # Administration: `@admin` fields refuse a caller who is not an admin.
    def _admin(self):
        user = self.state.admin["users"].get(self.caller)
        if not (user and user["isAdmin"] and user["isActive"]):
            raise Exception("Forbidden: this operation is for catalog admins")
        return Admin(self.state, self.caller)

    def me(self, info):
        user = self.state.admin["users"].get(self.caller)
        return {"name": self.caller, "email": user["email"] if user else "", "isAdmin": bool(user and user["isAdmin"]),
                "role": {"name": user["role"] if user else ""}, "roles": []}

    def admin(self, info):
        return self._admin()

    def roles(self, info):
        a = self._admin()
        return [a.role(rid) for rid in self.state.admin["roles"]]

    def role(self, info, id):
        a = self._admin()
        return a.role(id) if id in self.state.admin["roles"] else None

    def defaultRole(self, info):
        a = self._admin()
        rid = self.state.admin["default_role"]
        return a.role(rid) if rid else None

    def policies(self, info):
        a = self._admin()
        return [a.policy(pid) for pid in self.state.admin["policies"]]

    def policy(self, info, id):
        a = self._admin()
        return a.policy(id) if id in self.state.admin["policies"] else None

    def roleSetDefault(self, info, id):
        a = self._admin()
        if id not in self.state.admin["roles"]:
            return {"__typename": "RoleDoesNotExist"}
        if self.state.admin["sso"] is not None:
            return {"__typename": "SsoConfigConflict"}
        self.state.admin["default_role"] = id
        return {"__typename": "RoleSetDefaultSuccess", "role": a.role(id)}

    def _bucket_config(self, name):
        cfg = self.state.bucket_configs.get(name, {})
        return {
            "name": name, "title": cfg.get("title", name), "iconUrl": None,
            "description": cfg.get("description"), "linkedData": None, "overviewUrl": None,
            "tags": cfg.get("tags"), "relevanceScore": cfg.get("relevanceScore", 0),
            "lastIndexed": None, "browsable": cfg.get("browsable", True), "collaborators": [],
            "tabulatorTables": [{"name": n, "config": c} for n, c in sorted(self.state.tables.get(name, {}).items())],
        }

    # Query
    def buckets(self, info):
        return [self._bucket_config(b) for b in self.state.catalog_buckets()]

    def bucketConfig(self, info, name):
        return self._bucket_config(name) if name in self.state.catalog_buckets() else None

    def searchPackages(self, info, buckets=None, searchString=None, filter=None, userMetaFilters=None, latestOnly=False):
        search = searchString or ""
        if syntax_error(search):
            return invalid_search(syntax_error(search))
        hits = search_packages(self.state, buckets, search, latestOnly)
        state = self.state
        return {
            "__typename": "PackagesSearchResultSet", "total": len(hits),
            "firstPage": lambda info, size=30, ordering=None: page_of(state, "packages", hits, size),
        }

    def searchObjects(self, info, buckets=None, searchString=None, filter=None):
        search = searchString or ""
        if syntax_error(search):
            return invalid_search(syntax_error(search))
        hits = search_objects(self.state, buckets, search)
        state = self.state
        return {
            "__typename": "ObjectsSearchResultSet", "total": len(hits),
            "firstPage": lambda info, size=30, order=None: page_of(state, "objects", hits, size),
        }

    def _more(self, kind, after, size):
        with self.state.lock:
            found = self.state.cursors.get(after)
        if not found or found[0] != kind:
            return {"__typename": "InvalidInput", "errors": [{"path": "after", "message": "unknown cursor", "name": "InvalidCursor", "context": None}]}
        _, hits, offset = found
        return page_of(self.state, kind, hits, size, offset)

    def searchMorePackages(self, info, after, size=30):
        return self._more("packages", after, size)

    def searchMoreObjects(self, info, after, size=30):
        return self._more("objects", after, size)

    # Mutation
    def bucketSetTabulatorTable(self, info, bucketName, tableName, config=None):
        if bucketName not in self.state.catalog_buckets():
            return {"__typename": "InvalidInput", "errors": [{"path": "bucketName", "message": "Bucket not found", "name": "BucketNotFound", "context": None}]}
        tables = self.state.tables.setdefault(bucketName, {})
        if config is None:
            tables.pop(tableName, None)
        else:
            problem = tabulator_config_error(config)
            if problem:
                return {"__typename": "InvalidInput", "errors": [{"path": "config", "message": problem, "name": "InvalidConfig", "context": None}]}
            tables[tableName] = config
        return {"__typename": "BucketConfig", **self._bucket_config(bucketName)}

    def bucketRenameTabulatorTable(self, info, bucketName, tableName, newTableName):
        if bucketName not in self.state.catalog_buckets():
            return {"__typename": "InvalidInput", "errors": [{"path": "bucketName", "message": "Bucket not found", "name": "BucketNotFound", "context": None}]}
        tables = self.state.tables.setdefault(bucketName, {})
        if tableName not in tables:
            return {"__typename": "InvalidInput", "errors": [{"path": "tableName", "message": f"no table {tableName}", "name": "TableNotFound", "context": None}]}
        if newTableName in tables:
            return {"__typename": "InvalidInput", "errors": [{"path": "newTableName", "message": f"table {newTableName} already exists", "name": "TableAlreadyExists", "context": None}]}
        tables[newTableName] = tables.pop(tableName)
        return {"__typename": "BucketConfig", **self._bucket_config(bucketName)}


def catalog_buckets(self):
    """The buckets this catalog knows: the configured ones, else every bucket in moto."""
    if self.bucket_configs:
        return list(self.bucket_configs)
    return [b["Name"] for b in self.s3.list_buckets().get("Buckets", [])]


State.catalog_buckets = catalog_buckets


# --- web routes ------------------------------------------------------------------------


def resolve_web(state, path, query):
    """The catalog page a URL names, resolved against moto: (status, body)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[1] != "b":
        return 404, {"error": "not a catalog route"}
    bucket = parts[2]
    decode = lambda p: "/".join(urllib.parse.unquote(s) for s in p.split("/"))
    if parts[3] == "tree":
        key = decode("/".join(parts[4:]))
        if key == "" or key.endswith("/"):
            found = list_keys(state.s3, bucket, key)
            return (200, {"kind": "prefix", "bucket": bucket, "prefix": key, "count": len(found)}) if found else (404, {})
        params = {"Bucket": bucket, "Key": key}
        version = query.get("version", [None])[0]
        if version:
            params["VersionId"] = version
        try:
            head = state.s3.head_object(**params)
        except Exception:
            return 404, {}
        return 200, {"kind": "object", "bucket": bucket, "key": key, "version": head.get("VersionId"), "size": head["ContentLength"]}
    if parts[3] == "packages" and len(parts) >= 6:
        name = f"{parts[4]}/{parts[5]}"
        revs = {pointer: h for n, pointer, h, _ in package_revisions(state.s3, bucket) if n == name}
        if len(parts) == 6:
            return (200, {"kind": "package", "bucket": bucket, "name": name, "hash": revs["latest"]}) if "latest" in revs else (404, {})
        if len(parts) < 8 or parts[6] != "tree":
            return 404, {}
        rev = parts[7]
        top_hash = revs.get(rev) if rev == "latest" else rev
        try:
            header, entries = manifest(state.s3, bucket, top_hash)
        except Exception:
            return 404, {}
        entry_path = decode("/".join(parts[8:]))
        if entry_path == "" or entry_path.endswith("/"):
            inside = [e for e in entries if e["logical_key"].startswith(entry_path)]
            return (200, {"kind": "revision", "bucket": bucket, "name": name, "hash": top_hash, "entries": len(inside)}) if inside else (404, {})
        for e in entries:
            if e["logical_key"] == entry_path:
                return 200, {"kind": "entry", "bucket": bucket, "name": name, "hash": top_hash, "logical_key": entry_path, "physical_key": e["physical_keys"][0]}
        return 404, {}
    return 404, {}


# --- HTTP ------------------------------------------------------------------------------


def make_handler(state, schema):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _bearer(self):
            auth = self.headers.get("Authorization")
            if auth and auth.lower().startswith("bearer "):
                return auth[7:].strip()
            return auth

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/__record":
                with state.lock:
                    return self._send(200, list(state.records))
            if url.path == "/__admin":
                with state.admin_lock:
                    return self._send(200, state.admin)
            state.record({"path": url.path, "method": "GET", "token": self._bearer()})
            if url.path == "/config.json":
                if state.control["html"]:
                    return self._send(200, b"<!doctype html><html><body>Sign in</body></html>", "text/html")
                port = self.server.server_address[1]
                return self._send(200, {
                    "region": "us-east-1", "mode": "PRODUCT", "registryUrl": f"http://127.0.0.1:{port}",
                    "tabulatorDataCatalog": state.args.tabulator_catalog,
                    "s3Proxy": "/proxy", "apiGatewayEndpoint": "/api", "serviceBucket": "service",
                })
            status, body = resolve_web(state, url.path, urllib.parse.parse_qs(url.query))
            return self._send(status, body)

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if url.path == "/__control":
                with state.lock:
                    state.control.update(json.loads(raw or b"{}"))
                return self._send(200, state.control)
            if url.path != "/graphql":
                return self._send(404, {"error": "not found"})
            token = self._bearer()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            entry = {"path": "/graphql", "method": "POST", "token": token, "operation": body.get("operationName"), "variables": body.get("variables"), "accepted": False}
            state.record(entry)
            if state.control["delay_s"]:
                time.sleep(state.control["delay_s"])
            if state.control["html"]:
                return self._send(200, b"<!doctype html><html><body>Sign in</body></html>", "text/html")
            try:
                claims = jwt.decode(token or "", state.args.secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False})
            except jwt.PyJWTError as e:
                return self._send(401, {"message": f"Unauthorized: {type(e).__name__}"})
            entry["accepted"] = True
            if state.control["graphql_error"]:
                return self._send(200, {"data": None, "errors": [{"message": "Internal server error", "path": [body.get("operationName")]}]})
            with state.admin_lock:
                result = graphql_sync(schema, body.get("query", ""), root_value=Root(state, claims.get("sub")),
                                      variable_values=body.get("variables"), operation_name=body.get("operationName"))
            answer = {"data": result.data}
            if result.errors:
                answer["errors"] = [e.formatted for e in result.errors]
                entry["errors"] = answer["errors"]
            return self._send(200, answer)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--buckets-file")
    parser.add_argument("--tabulator-catalog", default="quilt-standin-tabulator")
    args = parser.parse_args()
    with open(SCHEMA_FILE) as f:
        schema = build_schema(f.read())
    state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state, schema))
    server.daemon_threads = True
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
