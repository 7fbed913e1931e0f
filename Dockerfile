# syntax=docker/dockerfile:1
# quilt-mcp-server container image.
#
#   docker build -t quilt-mcp-server .
#   docker run --rm -p 8000:8000 --read-only -e MCP_JWT_SECRET=... quilt-mcp-server
#
# Build stage: the same command as `make release` (tests/deploy/test_dockerfile.py keeps them
# in sync): a locked release build of the product binary only — the test-only
# quilt-mcp-fixture-server is never built here. Debian bookworm, so the binary's glibc
# matches the runtime image (distroless cc-debian12).
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p quilt-mcp-server --bin quilt-mcp-server \
    && install -D -m 0555 target/release/quilt-mcp-server /out/quilt-mcp-server

# Runtime: distroless cc (glibc, libgcc_s, CA certificates, tzdata; no shell, no package
# manager, no curl). The binary links only libc, libm and libgcc_s; TLS is rustls with
# aws-lc compiled in, and the system CA bundle is used for JWKS/registry/AWS endpoints.
# The server writes nothing to disk, so the root filesystem can be read-only.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/quilt-mcp-server /usr/local/bin/quilt-mcp-server
ENV MCP_LISTEN=0.0.0.0:8000 \
    MCP_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/quilt-mcp-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/quilt-mcp-server"]
CMD ["serve"]
