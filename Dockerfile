# syntax=docker/dockerfile:1
# NODE_VERSION picks the Node LTS line. 24 (the default) trains faster than 22, because its V8
# turns the kernels into 256-bit code (docs/decisions/0003); 22 stays buildable:
#   docker build --build-arg NODE_VERSION=22 .
ARG NODE_VERSION=24

# Build stage: compile better-sqlite3 and the TypeScript, then drop dev dependencies.
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev

# Runtime stage: only the built code, its production dependencies and tini, as a non-root user.
FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# glibc malloc: keep buffers up to 4 MB on the heap and up to 128 MB of freed memory for reuse.
# On Node 24 a large Buffer otherwise comes back as fresh pages every time, which costs binary
# /embed uploads much of their throughput (docs/decisions/0008-image-node24-malloc.md).
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=4194304 \
    MALLOC_TRIM_THRESHOLD_=134217728 \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
