"""The Dockerfile builds the binary the tests use, the way the Makefile builds it, into a
minimal non-root image; and the checker refuses broken copies. Parsed with dockerfile-parse;
no Docker daemon needed (the image itself is not built by `make test`)."""

from __future__ import annotations

import io
import re
import shlex
import tomllib

import pytest
from dockerfile_parse import DockerfileParser

import model as M

DOCKERFILE = M.ROOT / "Dockerfile"
MAKEFILE = M.ROOT / "Makefile"
DOCKERIGNORE = M.ROOT / ".dockerignore"
BINARY = "quilt-mcp-server"
RUNTIME_BASES = (
    re.compile(r"^gcr\.io/distroless/cc-debian(\d+)(:nonroot|:latest|:debug-nonroot)?(@sha256:[0-9a-f]{64})?$"),
    re.compile(r"^debian:(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$"),
)
DEBIAN = {"bookworm": "12", "trixie": "13"}
FLAG_ENV = re.compile(r"\b(RUSTFLAGS|CARGO_PROFILE_\w+|CARGO_BUILD_\w+|CARGO_ENCODED_RUSTFLAGS)\b")


def stages(text: str) -> list[list[dict]]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    out: list[list[dict]] = []
    for instr in parser.structure:
        if instr["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(instr)
    return out


def cargo_build(command: str) -> list[str]:
    """The `cargo build ...` words of a shell command (up to && / ; / |)."""
    words = shlex.split(command)
    for i in range(len(words) - 1):
        if words[i] == "cargo" and words[i + 1] == "build":
            end = i
            while end < len(words) and words[end] not in ("&&", ";", "|", "||"):
                end += 1
            return words[i:end]
    return []


def makefile_release(text: str) -> list[str]:
    m = re.search(r"^release:.*\n((?:\t.*\n)+)", text, re.M)
    if not m:
        return []
    for line in m.group(1).splitlines():
        words = cargo_build(line.strip())
        if words:
            return words
    return []


def args_of(instr: dict) -> str:
    return instr["value"]


def dockerfile_problems(docker: str, make: str) -> list[str]:
    p: list[str] = []
    st = stages(docker)
    if len(st) < 2:
        return ["the Dockerfile must be multi-stage (build, then a runtime image)"]
    build, runtime = st[:-1], st[-1]

    # 1. The same cargo build as `make release`.
    make_words = makefile_release(make)
    if not make_words:
        p.append("Makefile has no `release` target with a cargo build")
    docker_builds = [cargo_build(i["value"]) for s in build for i in s if i["instruction"] == "RUN"]
    docker_builds = [w for w in docker_builds if w]
    if len(docker_builds) != 1:
        p.append(f"expected one cargo build in the build stage, found {len(docker_builds)}")
    elif make_words and docker_builds[0] != make_words:
        p.append(f"Dockerfile builds `{' '.join(docker_builds[0])}` but `make release` runs `{' '.join(make_words)}`")
    for words in docker_builds[:1]:
        for need in ("--locked", "--release"):
            if need not in words:
                p.append(f"cargo build without {need}")
        if "--bin" not in words or words[words.index("--bin") + 1] != BINARY:
            p.append(f"cargo build must name --bin {BINARY} (never the fixture server)")
        if any(w in ("--bins", "--workspace", "--all") for w in words):
            p.append("cargo build must not build every binary (the fixture server would be built)")
    for s in build:
        for i in s:
            if i["instruction"] in ("ENV", "ARG", "RUN") and FLAG_ENV.search(i["value"]):
                p.append(f"build flags changed in the Dockerfile ({i['instruction']} {i['value'][:60]}): the binary would differ from `make release`")

    # 2. Runtime base: minimal, and the same Debian release as the builder (glibc).
    base = args_of(runtime[0]).split()[0]
    m = next((r.match(base) for r in RUNTIME_BASES if r.match(base)), None)
    if not m:
        p.append(f"runtime image {base!r} is not distroless/cc or debian-slim")
    builder_from = args_of(build[0][0]).split()[0]
    codename = next((c for c in DEBIAN if c in builder_from), None)
    if not codename:
        p.append(f"builder image {builder_from!r} does not name its Debian release")
    elif m and DEBIAN[codename] not in base and codename not in base:
        p.append(f"builder is Debian {codename} but the runtime is {base}: glibc would differ")

    # 3. Non-root.
    users = [i["value"].strip() for i in runtime if i["instruction"] == "USER"]
    if not users:
        p.append("runtime stage sets no USER")
    elif users[-1].split(":")[0] in ("root", "0"):
        p.append(f"runtime USER is root ({users[-1]})")

    # 4. Only the product binary is shipped.
    copies = [i["value"] for i in runtime if i["instruction"] in ("COPY", "ADD")]
    for c in copies:
        words = [w for w in c.split() if not w.startswith("--")]
        if "--from" not in c:
            p.append(f"runtime copies from the build context: {c}")
        for src in words[:-1]:
            if src.rstrip("/").split("/")[-1] != BINARY:
                p.append(f"runtime copies {src}, not only {BINARY}")
    if "quilt-mcp-fixture-server" in " ".join(i["value"] for i in runtime):
        p.append("the test-only fixture server is shipped")

    # 5. Settings, port, health check, entrypoint.
    env_text = " ".join(i["value"] for i in runtime if i["instruction"] == "ENV")
    envs = dict(re.findall(r"(\w+)=(\S+)", env_text))
    if envs.get("MCP_LISTEN") != "0.0.0.0:8000":
        p.append("runtime ENV must set MCP_LISTEN=0.0.0.0:8000")
    if envs.get("MCP_LOG_FORMAT") != "json":
        p.append("runtime ENV must set MCP_LOG_FORMAT=json")
    if any("SECRET" in k for k in envs):
        p.append("a secret is baked into the image's ENV")
    if not any(i["instruction"] == "EXPOSE" and i["value"].split()[0].split("/")[0] == "8000" for i in runtime):
        p.append("runtime must EXPOSE 8000")
    hc = [i["value"] for i in runtime if i["instruction"] == "HEALTHCHECK"]
    if not hc:
        p.append("no HEALTHCHECK")
    elif not re.search(rf'CMD\s+\[\s*"[^"]*{BINARY}"\s*,\s*"healthcheck"\s*\]', hc[-1]):
        p.append(f"HEALTHCHECK must run `{BINARY} healthcheck` in exec form: {hc[-1]}")
    if re.search(r"\b(curl|wget)\b", " ".join(i["value"] for i in runtime)):
        p.append("runtime stage uses curl/wget")
    entry = [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"]
    if not entry or BINARY not in entry[-1]:
        p.append(f"ENTRYPOINT must be {BINARY}")
    return p


def test_dockerfile_matches_the_makefile_and_the_image_rules():
    problems = dockerfile_problems(DOCKERFILE.read_text(), MAKEFILE.read_text())
    assert problems == [], "\n".join(problems)


def test_builder_toolchain_is_at_least_the_workspace_rust_version():
    cargo = tomllib.loads((M.ROOT / "Cargo.toml").read_text())
    need = tuple(int(x) for x in cargo["workspace"]["package"]["rust-version"].split("."))
    m = re.search(r"^ARG RUST_VERSION=(\d+(?:\.\d+)*)$", DOCKERFILE.read_text(), re.M)
    assert m, "Dockerfile must pin ARG RUST_VERSION"
    have = tuple(int(x) for x in m.group(1).split("."))
    assert have[: len(need)] >= need[: len(have)], f"Dockerfile Rust {have} < rust-version {need}"


def test_the_binary_the_image_builds_is_the_server_crate_default_binary():
    crate = tomllib.loads((M.ROOT / "crates" / BINARY / "Cargo.toml").read_text())
    assert crate["package"]["name"] == BINARY
    assert (M.ROOT / "crates" / BINARY / "src" / "main.rs").exists()


def test_ecs_health_checks_run_the_binary_where_the_image_puts_it():
    docker = DOCKERFILE.read_text()
    m = re.search(rf"^COPY --from=\S+ \S+ (\S*{BINARY})$", docker, re.M)
    assert m, "runtime COPY of the binary not found"
    path = m.group(1)
    tf = (M.TF_MODULE / "ecs.tf").read_text()
    cfn = M.CFN_TEMPLATE.read_text()
    assert f'["CMD", "{path}", "healthcheck"]' in tf, "Terraform container healthCheck path differs from the image"
    assert f"[CMD, {path}, healthcheck]" in cfn, "CloudFormation container HealthCheck path differs from the image"


def test_dockerignore_sends_only_the_sources():
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore must exclude everything first"
    assert {"!Cargo.toml", "!Cargo.lock", "!crates/"} <= set(lines)


def test_server_writes_nothing_to_its_filesystem():
    """The read-only root filesystem claim: no file-writing API in the shipped crates' sources."""
    writes = re.compile(r"\b(fs::write|File::create|OpenOptions|create_dir|tempfile|NamedTempFile|fs::rename)\b")
    found = []
    for path in (M.ROOT / "crates").glob("*/src/**/*.rs"):
        if path.relative_to(M.ROOT).parts[1] == "quilt-mcp-fixture":  # test-only, never shipped
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line) and not line.lstrip().startswith("//"):
                found.append(f"{path.relative_to(M.ROOT)}:{n}: {line.strip()}")
    # The one allowed write: package_update's manifest spool (created in passes.rs at a path
    # under std::env::temp_dir() named in stream.rs), which both task definitions mount as a
    # task-storage volume (test_scratch_volume_is_mounted_at_tmp).
    allowed = {"crates/quilt-mcp-server/src/tools/packaging/passes.rs"}
    found = [f for f in found if f.split(":")[0] not in allowed]
    assert found == [], "the server writes files; check they work with a read-only root fs:\n" + "\n".join(found)


def test_scratch_volume_is_mounted_at_tmp():
    """Where the server may write (its temp dir) is a mounted volume in both flavours."""
    packaging = (M.ROOT / "crates/quilt-mcp-server/src/tools/packaging/stream.rs").read_text()
    assert "TempFile(std::env::temp_dir()" in packaging, "the spool must live under the temp dir"
    tf = (M.ROOT / "deploy/terraform/modules/mcp_server/ecs.tf").read_text()
    assert re.search(r'containerPath\s*=\s*"/tmp",\s*readOnly\s*=\s*false', tf), "Terraform: /tmp not mounted writable"
    assert re.search(r'volume\s*\{\s*name\s*=\s*"scratch"', tf), "Terraform: no scratch volume"
    cfn = (M.ROOT / "deploy/cloudformation/mcp-server.yaml").read_text()
    assert re.search(r"SourceVolume: scratch\s+ContainerPath: /tmp\s+ReadOnly: false", cfn), "CloudFormation: /tmp not mounted"
    assert re.search(r"Volumes:\s+- Name: scratch", cfn), "CloudFormation: no scratch volume"


# ---- Broken copies -------------------------------------------------------------------------


def mutate(text: str, old: str, new: str) -> str:
    assert old in text, f"mutation anchor {old!r} not in the file"
    return text.replace(old, new, 1)


DOCKER = DOCKERFILE.read_text()
MAKE = MAKEFILE.read_text()
BROKEN = {
    "flags_drift": (mutate(DOCKER, "cargo build --locked --release", "cargo build --release"), MAKE, "make release"),
    "makefile_drift": (DOCKER, mutate(MAKE, "cargo build --locked --release -p quilt-mcp-server", "cargo build --locked --release --features x -p quilt-mcp-server"), "make release"),
    "rustflags": (mutate(DOCKER, "WORKDIR /src", "WORKDIR /src\nENV RUSTFLAGS=-Ctarget-cpu=native"), MAKE, "build flags changed"),
    "root_user": (mutate(DOCKER, "USER 65532:65532", "USER root"), MAKE, "USER is root"),
    "no_user": (mutate(DOCKER, "USER 65532:65532\n", ""), MAKE, "no USER"),
    "fixture_shipped": (mutate(DOCKER, "COPY --from=build /out/quilt-mcp-server /usr/local/bin/quilt-mcp-server", "COPY --from=build /out/quilt-mcp-server /usr/local/bin/quilt-mcp-server\nCOPY --from=build /src/target/release/quilt-mcp-fixture-server /usr/local/bin/"), MAKE, "fixture"),
    "curl_healthcheck": (mutate(DOCKER, 'CMD ["/usr/local/bin/quilt-mcp-server", "healthcheck"]', "CMD curl -f http://localhost:8000/healthz"), MAKE, "HEALTHCHECK must run"),
    "fat_runtime": (mutate(DOCKER, "FROM gcr.io/distroless/cc-debian12:nonroot", "FROM ubuntu:24.04"), MAKE, "not distroless"),
    "glibc_mismatch": (mutate(DOCKER, "FROM gcr.io/distroless/cc-debian12:nonroot", "FROM gcr.io/distroless/cc-debian13:nonroot"), MAKE, "glibc would differ"),
    "loopback_listen": (mutate(DOCKER, "MCP_LISTEN=0.0.0.0:8000", "MCP_LISTEN=127.0.0.1:8000"), MAKE, "MCP_LISTEN"),
    "text_logs": (mutate(DOCKER, "MCP_LOG_FORMAT=json", "MCP_LOG_FORMAT=text"), MAKE, "MCP_LOG_FORMAT"),
    "no_expose": (mutate(DOCKER, "EXPOSE 8000\n", ""), MAKE, "EXPOSE 8000"),
    "single_stage": ("FROM debian:bookworm-slim\nCOPY quilt-mcp-server /\n", MAKE, "multi-stage"),
    "all_bins": (mutate(DOCKER, "-p quilt-mcp-server --bin quilt-mcp-server", "--workspace --bins"), mutate(MAKE, "-p quilt-mcp-server --bin quilt-mcp-server", "--workspace --bins"), "--bin quilt-mcp-server"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_dockerfile_checker_refuses_a_broken_copy(kind):
    docker, make, phrase = BROKEN[kind]
    problems = dockerfile_problems(docker, make)
    assert any(phrase in p for p in problems), f"{kind}: expected a problem about {phrase!r}, got {problems}"
