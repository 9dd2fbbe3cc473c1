# syntax=docker/dockerfile:1
#
# Edge Hive node image.
#
#   docker build -t edge-hive .
#   docker run -d --name edge-hive -v edge-hive-data:/data \
#     -p 8080:8080/tcp -p 4001:4001/tcp -p 4001:4001/udp edge-hive
#
# Why glibc (Debian 12) and not Alpine (musl): the node needs two native modules.
# - @surrealdb/node (the embedded SurrealDB engine, not optional) carries its binaries inside
#   the package for linux-x64 and linux-arm64 in both -gnu and -musl builds.
# - @chainsafe/libp2p-quic (QUIC) loads one optional package per platform; linux-x64/arm64 exist
#   as -gnu and -musl, but package-lock.json records only linux-x64-gnu in full (the registry
#   this project was locked against served only that one).
# Both have glibc builds for x64 and arm64, glibc is what Node.js officially supports (its musl
# builds are experimental), and the distroless runtime is Debian 12. The binaries need at most
# GLIBC_2.35 (checked with objdump -T); Debian 12 has 2.36 (Debian 11's 2.31 would not do).
# The build stage uses the same Debian release as the runtime, so what loads there loads here.

# ---- build: install, compile src/ to dist/, keep the production dependencies of this platform
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src/ src/
# `npm run build` (run by `npm ci`) bundles the CLI with this script.
COPY scripts/build-bundle.ts scripts/
# The README's install: `npm ci` runs the `prepare` script, which builds dist/ (the `node`
# dev dependency fetches its own Node.js 22 for that, as on a developer's machine). The cache
# mount keeps downloads between builds.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY docker/ docker/
# Production dependencies only, then drop what the runtime never loads (other platforms' native
# binaries, typescript, @types); the script fails the build if the native modules do not load.
# This stage runs on the target platform (emulated when cross-building with --platform), so the
# script's process.arch is the image's architecture: no TARGETARCH mapping needed. The bundle's
# source maps (17 MB) only serve profiling on a developer's machine: they stay out of the image.
RUN npm prune --omit=dev --no-audit --no-fund \
 && rm dist/cli/*.bundle.js.map \
 && node docker/prune-node-modules.mjs /app \
 && node dist/cli/main.js --version

# ---- runtime: Node.js 22 on distroless Debian 12 (no shell, no package manager)
FROM gcr.io/distroless/nodejs22-debian12 AS runtime
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/docker ./docker
# /data: the node's volume. /invitations: where docker-compose.yml's founder leaves invitations
# for the other nodes; a named volume mounted on either starts as a copy of the image's empty
# directory, owner and mode included, so uid 1000 can write to it. Made with Node.js in exec
# form (no shell here), as root, before USER.
RUN ["/nodejs/bin/node", "-e", "const fs = require('node:fs'); for (const [dir, mode] of [['/data', 0o755], ['/invitations', 0o700]]) { fs.mkdirSync(dir, { recursive: true }); fs.chmodSync(dir, mode); fs.chownSync(dir, 1000, 1000) }"]

# PATH: /app/docker/bin holds `edge-hive`, a launcher whose first line names /nodejs/bin/node
# (distroless has no /usr/bin/env for the usual `#!/usr/bin/env node`), so ENTRYPOINT
# ["edge-hive"] and `docker exec <c> edge-hive ...` work; /nodejs/bin has `node` itself.
# HOME: uid 1000 has no passwd entry here; HOME keeps every default under the volume.
# NODE_ENV: the usual production marker for libraries that look at it.
# NODE_DISABLE_COMPILE_CACHE: the CLI keeps Node's compile cache under HOME, which here is the data
# volume; whoever can write the volume (or a restored backup) could then plant code the node
# runs, not only change its data. Starts are a few tenths of a second slower without it.
ENV PATH=/app/docker/bin:/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/data \
    NODE_ENV=production \
    NODE_DISABLE_COMPILE_CACHE=1 \
    EDGE_HIVE_DATA_DIR=/data/.edge-hive \
    EDGE_HIVE_HOST=0.0.0.0
USER 1000:1000
# Checks at build time, in exec form (no shell): the launcher starts the CLI from the bundle the
# build made, and the native modules and every chunk of the bundle (the node itself, QUIC with its
# native binary) load on this image's C library.
RUN ["edge-hive", "--version"]
RUN ["edge-hive", "serve", "--help"]
RUN ["node", "/app/docker/prune-node-modules.mjs", "--verify-only", "/app"]

VOLUME ["/data"]
# 8080/tcp HTTPS (MCP, OAuth, API); 4001/tcp libp2p TCP; 4001/udp libp2p QUIC; 5353/udp mDNS (--discovery).
EXPOSE 8080/tcp 4001/tcp 4001/udp 5353/udp
# `edge-hive status` asks the node that holds the data dir over its own HTTPS API, pinned to the
# certificate fingerprint in the data dir: exit 0 when ready. Exec form: there is no shell.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
  CMD ["/nodejs/bin/node", "/app/dist/cli/main.js", "status", "--json"]
ENTRYPOINT ["edge-hive"]
CMD ["serve", "--port", "8080", "--discovery"]
