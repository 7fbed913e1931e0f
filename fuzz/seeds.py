#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/ (run from anywhere; idempotent).

Token inputs start with a mode byte: 0 = the rest is an Authorization header value,
1 = the rest is a JWT payload the target signs with its test secret (checks/token.rs).
"""
import base64, hashlib, hmac, json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
SECRET = b"fuzz-only-secret-0123456789-abcdefghijk"
FAR = 4102444800  # 2100-01-01: seeds stay valid


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def jws(payload, header=b'{"alg":"HS256","typ":"JWT"}', secret=SECRET):
    msg = b64(header) + b"." + b64(payload)
    return msg + b"." + b64(hmac.new(secret, msg, hashlib.sha256).digest())


def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


claims = {
    "plain": {"sub": "alice", "exp": FAR, "scope": "quilt:read quilt:write"},
    "aws-credentials": {"sub": "bob", "exp": FAR, "aws_credentials": {"access_key_id": "AKIAFUZZFUZZFUZZ0001", "secret_access_key": "fuzz-secret-access-key-0001", "session_token": "tok", "expiration": "2099-01-01T00:00:00Z"}},
    "camel-credentials": {"id": "carol", "exp": FAR, "aws_credentials": {"accessKeyId": "AKIA1", "secretAccessKey": "s3cr3t-s3cr3t", "sessionToken": None}},
    "role": {"uuid": "dave", "exp": FAR, "roleArn": "arn:aws:iam::123456789012:role/Reader", "session_tags": {"team": "data"}, "transitive_tag_keys": ["team"]},
    "bad-role": {"sub": "erin", "exp": FAR, "role_arn": "arn:aws:iam::12:role/x"},
    "buckets": {"sub": "frank", "exp": FAR, "buckets": ["alpha", "beta/prefix/", "*"], "scopes": ["quilt:read"], "permissions": ["athena:query"]},
    "bad-bucket": {"sub": "gina", "exp": FAR, "buckets": ["Bad_Bucket"]},
    "no-exp": {"sub": "hank"},
    "float-exp": {"sub": "ivan", "exp": 4102444800.5},
    "string-exp": {"sub": "judy", "exp": "4102444800"},
    "expired": {"sub": "kim", "exp": 1000},
    "nbf-future": {"sub": "lee", "exp": FAR, "nbf": FAR - 10},
    "iat-future": {"sub": "mo", "exp": FAR, "iat": FAR - 10},
    "empty-sub": {"sub": "", "exp": FAR},
    "long-sub": {"sub": "x" * 300, "exp": FAR},
    "unicode-sub": {"sub": "ünïcødé 用户", "exp": FAR},
    "aud": {"sub": "nia", "exp": FAR, "aud": ["https://elsewhere.example/mcp"]},
    "tags-many": {"sub": "oz", "exp": FAR, "session_tags": {f"k{i}": "v" for i in range(60)}},
}
for name, c in claims.items():
    write("token", f"payload-{name}", b"\x01" + json.dumps(c).encode())
    write("token", f"header-{name}", b"\x00Bearer " + jws(json.dumps(c).encode()))
for name, payload in {"not-json": b"not json", "array": b"[1,2]", "null": b"null", "deep": b"[" * 200}.items():
    write("token", f"payload-{name}", b"\x01" + payload)
good = jws(json.dumps(claims["plain"]).encode())
headers = {
    "empty": b"",
    "basic": b"Basic dXNlcjpwYXNz",
    "bearer-only": b"Bearer",
    "bearer-space": b"Bearer   ",
    "lowercase": b"bearer " + good,
    "wrong-secret": b"Bearer " + jws(json.dumps(claims["plain"]).encode(), secret=b"another-secret-0123456789-abcdefghijklm"),
    "alg-none": b"Bearer " + b64(b'{"alg":"none"}') + b"." + b64(json.dumps(claims["plain"]).encode()) + b".",
    "alg-rs256": b"Bearer " + jws(json.dumps(claims["plain"]).encode(), header=b'{"alg":"RS256","kid":"k"}'),
    "alg-hs512": b"Bearer " + jws(json.dumps(claims["plain"]).encode(), header=b'{"alg":"HS512"}'),
    "two-dots": b"Bearer a.b",
    "four-parts": b"Bearer a.b.c.d",
    "non-utf8": b"Bearer \xff\xfe",
    "oversized": b"Bearer " + b"a" * 9000,
}
for name, h in headers.items():
    write("token", f"header-{name}", b"\x00" + h)

uris = [
    "s3://my-bucket/key", "s3://my-bucket/dir/a file ü.csv", "s3://my-bucket/a%20b%C3%BC?versionId=abc.123",
    "s3://my-bucket/what?is=this/100%", "s3://my-bucket/k?versionId=", "s3://my-bucket/k?versionId=null",
    "s3://Bad_Bucket/k", "s3://bucket", "s3://bucket/", "https://bucket/key", "  s3://bucket/padded  ",
    "s3://b.c-d/k?versionId=v1?versionId=v2", "s3://bucket/a\u0001b", "s3://192.168.0.1/k",
    "s3://bucket/" + "k" * 1025, "s3://bucket/%ZZ%", "s3://bucket/%00", "s3://xn--bucket/k", "s3://bucket/k?versionId=%0A",
]
for i, u in enumerate(uris):
    write("s3_uri", f"seed-{i:02}", u)

sql_corpus = pathlib.Path(__file__).resolve().parent.parent / "crates/quilt-mcp-aws/tests/data/sql_guard_corpus.txt"
n = 0
for line in sql_corpus.read_text().splitlines():
    if not line or line.startswith("#") or "\t" not in line:
        continue
    write("sql_guard", f"corpus-{n:03}", line.split("\t", 1)[1].replace("\\n", "\n"))
    n += 1
extra = [
    "", ";", "SELECT 1; SELECT 2", "SELECT 1 -- trailing comment", "SELECT /* unterminated",
    "SELECT " + "(" * 300 + "1" + ")" * 300, "SELECT 'it''s' AS \"insert\"", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "UNLOAD (SELECT 1) TO 's3://b/p' WITH (format='PARQUET')", "EXPLAIN ANALYZE SELECT 1", "SHOW TABLES IN db", "DESCRIBE db.t",
    "SELECT * INTO new_t FROM t", "VALUES (1), (2)", "TABLE t", "select\u00a01",
]
for i, s in enumerate(extra):
    write("sql_guard", f"extra-{i:02}", s)
