#!/usr/bin/env python3
"""Real data files for the preview tests, written by real writers (pyarrow, csv, json, gzip).

Usage:
  preview_data.py files DIR
      Writes the fixtures into DIR and prints, as JSON on stdout, what pyarrow and Python's
      own readers say about each (the truth the tests compare the server's preview with):
      {"name": {"rows": [...first rows...], "num_rows": n, "row_groups": n, "columns": [...]}}
  preview_data.py big ENDPOINT BUCKET KEY TARGET_BYTES
      Streams a Parquet object of at least TARGET_BYTES into S3 at ENDPOINT (moto) with
      pyarrow's S3 filesystem (multipart, nothing on disk): row groups of 64 MiB of
      uncompressed strings. Prints {"size", "row_groups", "num_rows", "rows": first 5}.
"""
import csv
import gzip
import io
import json
import os
import sys
import zlib

import pyarrow as pa
import pyarrow.parquet as pq

FIRST = 10


def nested_table() -> pa.Table:
    n = 250
    ids = list(range(n))
    names = [f"sample-{i:04d}" if i % 7 else None for i in ids]
    scores = [i * 1.5 if i % 5 else None for i in ids]
    meta = [{"plate": i % 12, "well": f"W{i % 96}"} if i % 11 else None for i in ids]
    tags = [[i, i + 1, i + 2][: i % 4] if i % 13 else None for i in ids]
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
            "score": pa.array(scores, pa.float64()),
            "meta": pa.array(meta, pa.struct([("plate", pa.int64()), ("well", pa.string())])),
            "tags": pa.array(tags, pa.list_(pa.int64())),
        }
    )


def files(out: str) -> dict:
    truth = {}
    table = nested_table()
    path = os.path.join(out, "nested.parquet")
    # Several row groups (100 rows each), snappy (pyarrow's default codec).
    pq.write_table(table, path, row_group_size=100)
    pf = pq.ParquetFile(path)
    truth["nested.parquet"] = {
        "rows": pf.read_row_group(0).slice(0, FIRST).to_pylist(),
        "num_rows": pf.metadata.num_rows,
        "row_groups": pf.metadata.num_row_groups,
        "row_group_rows": [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)],
        "columns": [pf.schema.column(i).path for i in range(len(pf.schema))],
        "created_by": pf.metadata.created_by,
    }
    # The same table with zstd: the codec path the preview shares with compressed text.
    pq.write_table(table, os.path.join(out, "zstd.parquet"), row_group_size=100, compression="zstd")

    # A corrupt footer: the length and both magics intact, the metadata overwritten.
    with open(path, "rb") as f:
        data = bytearray(f.read())
    meta_len = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - meta_len
    data[start : start + meta_len] = bytes((i * 37 + 11) % 251 for i in range(meta_len))
    with open(os.path.join(out, "corrupt.parquet"), "wb") as f:
        f.write(data)

    header = ["sample", "count", "ratio", "flag", "day"]
    rows = [[f"s{i}", str(i * 3), f"{i / 8:.3f}", "true" if i % 2 else "false", f"2026-01-{1 + i % 28:02d}"] for i in range(40)]
    for name, delim in (("data.csv", ","), ("data.tsv", "\t"), ("semi.csv", ";")):
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.writer(f, delimiter=delim)
            w.writerow(header)
            w.writerows(rows)
        with open(os.path.join(out, name), newline="") as f:
            got = list(csv.DictReader(f, delimiter=delim))
        truth[name] = {"rows": got[:FIRST], "num_rows": len(got), "columns": header}
    # No header: numbers only.
    with open(os.path.join(out, "noheader.csv"), "w", newline="") as f:
        csv.writer(f).writerows([[i, i * i, i / 4] for i in range(20)])
    with open(os.path.join(out, "noheader.csv"), newline="") as f:
        truth["noheader.csv"] = {"rows": list(csv.reader(f))[:FIRST]}
    # Ragged rows: rows 3 and 6 (data rows) have a field too many / too few.
    with open(os.path.join(out, "ragged.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c"])
        for i in range(8):
            w.writerow([i, i + 1, i + 2] + ([99] if i == 2 else []) if i != 5 else [i, i + 1])
    # Quoted fields with the delimiter and a newline inside.
    with open(os.path.join(out, "quoted.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "note"])
        w.writerow([1, "a, b"])
        w.writerow([2, "line one\nline two"])
        w.writerow([3, 'say "hi"'])
    with open(os.path.join(out, "quoted.csv"), newline="") as f:
        truth["quoted.csv"] = {"rows": list(csv.DictReader(f))}

    records = [{"id": i, "name": f"r{i}", "value": (i * 0.5 if i % 3 else None), "tags": ["x"] * (i % 3)} for i in range(30)]
    records[4]["extra"] = {"nested": True}
    with open(os.path.join(out, "records.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    truth["records.jsonl"] = {"rows": records[:FIRST], "num_rows": len(records)}
    with open(os.path.join(out, "array.json"), "w") as f:
        json.dump(records, f, indent=2)
    truth["array.json"] = {"rows": records[:FIRST], "num_rows": len(records)}

    # gzip of the CSV, written by Python's gzip module.
    with open(os.path.join(out, "data.csv"), "rb") as f:
        csv_bytes = f.read()
    with gzip.open(os.path.join(out, "data.csv.gz"), "wb") as f:
        f.write(csv_bytes)
    truth["data.csv.gz"] = truth["data.csv"]
    # A gzip bomb: 512 MiB of zeros in about half a megabyte.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    with open(os.path.join(out, "bomb.txt.gz"), "wb") as f:
        for _ in range(512):
            f.write(z.compress(chunk))
        f.write(z.flush())
    # A gzip bomb of text: CSV lines repeated, 256 MiB decompressed.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"".join(b"%d,row,%d\n" % (i, i * 2) for i in range(1000))
    with open(os.path.join(out, "bomb.csv.gz"), "wb") as f:
        f.write(z.compress(b"n,kind,double\n"))
        for _ in range((256 << 20) // len(block)):
            f.write(z.compress(block))
        f.write(z.flush())
    return truth


def big(endpoint: str, bucket: str, key: str, target: int) -> dict:
    from pyarrow import fs

    s3 = fs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=endpoint,
        scheme="http",
        # moto assembles a completed multipart upload in one go: a 1 GiB object takes a while.
        request_timeout=600,
        connect_timeout=30,
    )
    rows_per_group = 64 * 1024
    payload = "x" * 1000
    schema = pa.schema([("id", pa.int64()), ("payload", pa.string())])
    groups = max(1, -(-target // (rows_per_group * 1008)))
    with s3.open_output_stream(f"{bucket}/{key}") as sink:
        with pq.ParquetWriter(sink, schema, compression="NONE", use_dictionary=False) as w:
            for g in range(groups):
                start = g * rows_per_group
                ids = pa.array(range(start, start + rows_per_group), pa.int64())
                w.write_table(pa.table({"id": ids, "payload": pa.array([payload] * rows_per_group)}, schema=schema), row_group_size=rows_per_group)
    info = s3.get_file_info(f"{bucket}/{key}")
    return {
        "size": info.size,
        "row_groups": groups,
        "num_rows": groups * rows_per_group,
        "rows": [{"id": i, "payload": payload} for i in range(5)],
    }


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "files":
        print(json.dumps(files(sys.argv[2])))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "big":
        print(json.dumps(big(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
