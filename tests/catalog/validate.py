"""Validates GraphQL documents against the catalog's schema with graphql-core.

Reads ``[{"name": ..., "document": ...}, ...]`` on stdin and prints ``{name: [errors]}`` (an
empty list for a valid document). Used by ``crates/quilt-catalog/tests/schema.rs``, so every
operation the server can send is checked by the same engine the test stand-in serves.
"""

import json
import os
import sys

from graphql import build_schema, parse, validate

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quilt-catalog-schema.graphql")


def main():
    with open(SCHEMA_FILE) as f:
        schema = build_schema(f.read())
    out = {}
    for op in json.load(sys.stdin):
        try:
            errors = [e.message for e in validate(schema, parse(op["document"]))]
        except Exception as e:  # a syntax error is an error of the document
            errors = [str(e)]
        out[op["name"]] = errors
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
