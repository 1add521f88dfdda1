# PhoneReg in a container: a build stage with the Rust toolchain, Node and the SPA tools,
# and a slim Debian runtime with the API binary, the built SPA and libpq, run as a
# non-root user. The API reference viewer is required (PHONEREG_REQUIRE_API_DOCS=1).
#
#   docker build -t phonereg .
#   docker run -p 8080:8080 -v phonereg-data:/var/lib/phonereg phonereg
#
# compose.yaml runs it with PostgreSQL.
# The base images are arguments, so a local stand-in (say, one built with debootstrap) can be named.
ARG BUILD_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
# scripts/tools.sh (run by build-spa.sh) adds the rest: Node >= 20, trunk, wasm-bindgen-cli, Swagger UI.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libpq-dev python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CARGO_INCREMENTAL=0 PHONEREG_REQUIRE_API_DOCS=1
# The binary is copied out of target/ so that target/ may be a cache mount (buildah bud
# --volume, as scripts/container.sh does) that the stage's layer does not keep.
RUN scripts/build-spa.sh \
 && cargo build --release --locked -p phonereg-api \
 && install -m 0755 target/release/phonereg-api /usr/local/bin/phonereg-api \
 && strip /usr/local/bin/phonereg-api

FROM ${RUNTIME_IMAGE}
# libpq for PostgreSQL; curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 phonereg \
 && useradd --system --uid 10001 --gid phonereg --home-dir /var/lib/phonereg --create-home phonereg
COPY --from=build /usr/local/bin/phonereg-api /usr/local/bin/phonereg-api
COPY --from=build /src/dist /usr/share/phonereg/dist
# SQLite under the volume by default; DATABASE_URL=postgres://… to scale out. Set
# PHONEREG_ENV=production with JWT_SECRET and the SMS provider for real use (README).
ENV BIND=0.0.0.0:8080 \
    STATIC_DIR=/usr/share/phonereg/dist \
    DATA_DIR=/var/lib/phonereg \
    DATABASE_URL=sqlite:///var/lib/phonereg/phonereg.db
# By number, so that a runtime can tell it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
WORKDIR /var/lib/phonereg
VOLUME ["/var/lib/phonereg"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/phonereg-api"]
