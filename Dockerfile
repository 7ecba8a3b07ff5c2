# syntax=docker/dockerfile:1
#
# commitlog: a build stage that compiles node-rdkafka (librdkafka) and the
# TypeScript, and a slim runtime holding production dependencies only.
#
# CI has no Docker engine, so scripts/tools/check-image-build runs this file's
# steps outside Docker (scripts/tools/cmd/dockerfile-run): a RUN that calls
# apt-get is system setup and is checked there (every package it names must be
# installed on the Debian bookworm host) rather than run; every other RUN runs
# as written, so it must use paths relative to its WORKDIR.

# Both stages are Debian bookworm (glibc 2.36) with the same Node.js major: the
# librdkafka binding compiled in the first runs unchanged in the second.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
# Headers librdkafka is compiled against (zstd, lz4, SASL/GSSAPI, TLS) and node-gyp's toolchain.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzstd-dev liblz4-dev libsasl2-dev libssl-dev python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies before sources, so that a source change does not recompile
# librdkafka (minutes). --ignore-scripts skips the root `prepare` (it builds
# src/, not copied yet); `npm rebuild` then runs node-rdkafka's own node-gyp build.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && npm rebuild node-rdkafka
COPY tsconfig.json tsconfig.build.json ./
COPY proto/ proto/
COPY src/ src/
COPY bin/ bin/
RUN npm run build
# The runtime tree in out/: package.json, bin/, dist/, proto/ (loaded at run
# time), production dependencies installed without their scripts, and the
# binding compiled above with the librdkafka shared objects it loads from
# build/deps/ (its rpath). librdkafka's sources (deps/, 400+ MB) stay behind.
RUN mkdir -p out \
    && cp package.json package-lock.json out/ \
    && cp -R bin dist proto out/ \
    && npm ci --prefix out --omit=dev --ignore-scripts --no-audit --no-fund \
    && rm -rf out/node_modules/node-rdkafka/deps out/node_modules/node-rdkafka/src \
    && mkdir -p out/node_modules/node-rdkafka/build/Release out/node_modules/node-rdkafka/build/deps \
    && cp node_modules/node-rdkafka/build/Release/node-librdkafka.node out/node_modules/node-rdkafka/build/Release/ \
    && cp -P node_modules/node-rdkafka/build/deps/librdkafka.so* node_modules/node-rdkafka/build/deps/librdkafka++.so* \
        out/node_modules/node-rdkafka/build/deps/

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini runs as PID 1: it forwards SIGTERM to node (whose handler drains the
# gateway) and reaps children. The libraries are what the binding links (ldd);
# ca-certificates lets librdkafka verify brokers' TLS certificates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini ca-certificates libzstd1 liblz4-1 libsasl2-2 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 commitlog \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin commitlog \
    && mkdir -p /var/lib/commitlog/spill \
    && chown 10001:10001 /var/lib/commitlog/spill
ENV NODE_ENV=production \
    COMMITLOG_SPILL_DIR=/var/lib/commitlog/spill
WORKDIR /app
COPY --from=build /app/out/ ./
# A numeric user, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
VOLUME ["/var/lib/commitlog/spill"]
# gRPC (COMMITLOG_LISTEN), Prometheus scrape endpoint (COMMITLOG_METRICS_LISTEN).
EXPOSE 50051 9464
# grpc.health.v1 Check on the local gRPC port; SERVING is healthy. Kubernetes
# ignores this and uses its native gRPC probes (helm/commitlog).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "const g=require('@grpc/grpc-js'),{service}=require('grpc-health-check');const port=(process.env.COMMITLOG_LISTEN||':50051').split(':').pop();const Health=g.makeGenericClientConstructor(service,'Health');new Health('127.0.0.1:'+port,g.credentials.createInsecure()).Check({service:''},{deadline:Date.now()+4000},(err,res)=>process.exit(!err&&res.status==='SERVING'?0:1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/commitlog.js"]
CMD ["serve"]
