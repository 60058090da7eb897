# syntax=docker/dockerfile:1
# The seglake image: the `seglake` binary alone, for every role. The
# Kubernetes examples (infra/k8s) run it as the cluster's scheduler
# (`cluster scheduler`), its executors (`cluster executor`) and the nightly
# driver (`run JOB`): the entrypoint is `seglake`, a container gives only
# its arguments.
#
#   docker build -t ghcr.io/seglake/seglake:latest .
#
# The binary is built as `cargo install` builds it: the dist profile (no
# debug info, stripped), Cargo.lock as it is, with both optional features
# (the cluster engine and S3), which the Kubernetes examples need.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and the target folder are BuildKit caches, so a rebuild
# after a change to seglake compiles seglake's own crates only; the binary
# is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked -p seglake-cli --features cluster,s3 \
    && install -D target/dist/seglake /out/seglake

# The same Debian release as the builder, so the binary finds the glibc it
# was linked against; it needs the CA certificates (S3, webhooks and Kafka
# over TLS check servers against the system's roots) and OpenSSL's library
# (the Kafka client's TLS and SCRAM).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/seglake /usr/local/bin/seglake
# Not root; its home is the working folder (`seglake demo` writes ./lake).
RUN useradd --create-home --uid 10001 seglake
USER seglake
WORKDIR /home/seglake
# The scheduler (50050) and an executor's Arrow Flight and task ports
# (50051, 50052), as infra/k8s/cluster.yaml binds them; `seglake serve`
# (8080, with --bind 0.0.0.0:8080 in a container).
EXPOSE 50050 50051 50052 8080
ENTRYPOINT ["seglake"]
CMD ["--help"]
