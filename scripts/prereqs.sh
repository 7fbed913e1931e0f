#!/usr/bin/env bash
# Checks the tools a target needs before it starts, so a missing or old one is named with the
# way to get it instead of failing minutes into a build. Usage: scripts/prereqs.sh dev|test
set -euo pipefail
need="${1:-test}"
problems=()

version_at_least() { # have want: true when have >= want (dotted numbers)
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

if ! command -v cargo >/dev/null; then
  problems+=("cargo not found: install Rust ≥ 1.94 with rustup (https://rustup.rs)")
else
  rust="$(rustc --version 2>/dev/null | awk '{print $2}')"
  version_at_least "${rust:-0}" 1.94 || problems+=("Rust $rust is older than 1.94: rustup update stable")
fi
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null; then
  problems+=("$py not found: install Python ≥ 3.10 (with its venv module)")
else
  pyv="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  version_at_least "$pyv" 3.10 || problems+=("Python $pyv is older than 3.10 (set PYTHON=python3.X to use another)")
fi
command -v curl >/dev/null || problems+=("curl not found (make dev and its tests use it)")
if [[ "$need" == test ]]; then
  cargo nextest --version >/dev/null 2>&1 ||
    problems+=("cargo-nextest not found: cargo install cargo-nextest --locked")
  command -v npm >/dev/null ||
    problems+=("npm not found: install Node.js with npm (it fetches the pinned Node 24 for the conformance suite)")
fi

if ((${#problems[@]})); then
  echo "make $need: missing prerequisites:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
