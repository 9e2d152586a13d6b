#!/bin/sh
# Builds .gpu-carry/ (gitignored): everything the GPU machine lacks to run the GPU check
# (it has no Node and no network). Run HERE, from anywhere; then make the device call
# written in scripts/gpu-check/README.md.
#
#   .gpu-carry/node.xz                       this machine's node binary (x86-64, glibc only), xz -9
#   .gpu-carry/app/check.cjs                 scripts/gpu-check/check.ts + src/core + tfjs, one CommonJS file
#   .gpu-carry/app/tfjs-backend-wasm*.wasm   the wasm backend's binaries (check.cjs is run with --wasm-dir)
#   .gpu-carry/webgpu.tar.xz                 node_modules/webgpu with only package.json, index.js and
#                                            dist/linux-x64/dawn.node (unpacked next to check.cjs there)
#   .gpu-carry/MANIFEST                      sizes, sha256s, versions
#   .gl/libvulkan1_*_amd64.deb               the Vulkan loader, for a device without one (gitignored)
#
# Fails if the carried folder plus the tracked working tree would pass the 64 MiB a device
# call may send.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CARRY=.gpu-carry
LIMIT=$((64 * 1024 * 1024))

[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: this machine is $(uname -m); the GPU machine is x86-64" >&2; exit 1; }
NODE_BIN=${NODE_BIN:-$(command -v node)}
NODE_BIN=$(readlink -f "$NODE_BIN")
NODE_VERSION=$("$NODE_BIN" -v)
case "$NODE_VERSION" in v20.*|v22.*) ;; *) echo "prepare.sh: need Node 20 or 22, $NODE_BIN is $NODE_VERSION" >&2; exit 1;; esac
# A distribution's node linked against libnode/libuv/libicu would not start there.
if ldd "$NODE_BIN" | grep -Eq 'libnode|libuv|libicu|libssl|libcrypto'; then
  echo "prepare.sh: $NODE_BIN links shared Node libraries; set NODE_BIN to an official build" >&2
  exit 1
fi
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || { echo "prepare.sh: $DAWN missing (npm ci first)" >&2; exit 1; }
command -v xz >/dev/null || { echo "prepare.sh: xz missing (apt-get install xz-utils)" >&2; exit 1; }

# node.xz is kept when the binary is unchanged (xz -9 of ~95 MB takes minutes on 2 cores).
NODE_SUM=$(sha256sum "$NODE_BIN" | cut -d' ' -f1)
if [ -f "$CARRY/node.xz" ] && [ "$(cat "$CARRY/node.sha256" 2>/dev/null)" = "$NODE_SUM" ]; then
  mv "$CARRY/node.xz" "$CARRY/node.sha256" /tmp/ 2>/dev/null && KEEP_NODE=1 || KEEP_NODE=0
else
  KEEP_NODE=0
fi
rm -rf "$CARRY"
mkdir -p "$CARRY/app" "$CARRY/stage/node_modules/webgpu/dist/linux-x64"
[ "$KEEP_NODE" = 1 ] && mv /tmp/node.xz /tmp/node.sha256 "$CARRY/"

echo "bundling check.ts ..."
"$NODE_BIN" scripts/gpu-check/build.mjs "$CARRY/app/check.cjs"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm \
   node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm \
   node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm "$CARRY/app/"

echo "packing webgpu (linux-x64 dawn.node only) ..."
cp node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/LICENSE.md "$CARRY/stage/node_modules/webgpu/"
cp "$DAWN" "$CARRY/stage/node_modules/webgpu/dist/linux-x64/"
tar -C "$CARRY/stage" -cf - node_modules | xz -9 -T2 > "$CARRY/webgpu.tar.xz"
rm -rf "$CARRY/stage"

if [ "$KEEP_NODE" = 1 ]; then
  echo "node $NODE_VERSION: $CARRY/node.xz is current (sha256 $NODE_SUM)"
else
  echo "packing node $NODE_VERSION ($NODE_BIN) ..."
  xz -9 -T2 -c "$NODE_BIN" > "$CARRY/node.xz.tmp" && mv "$CARRY/node.xz.tmp" "$CARRY/node.xz"
  echo "$NODE_SUM" > "$CARRY/node.sha256"
fi

# .gl/: the Vulkan loader's .deb for a machine without libvulkan.so.1 (device README's trick;
# run-on-device.sh unpacks it only there). Debian's own archive, through apt's own client.
if ! ls .gl/libvulkan1_*_amd64.deb >/dev/null 2>&1; then
  echo "downloading libvulkan1 (amd64) into .gl/ ..."
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || grep -q '^\.gl/$' .gitignore || echo /.gl/ >> .git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null && (cd .gl && apt-get $o download libvulkan1) \
    || echo "prepare.sh: warning: could not fetch libvulkan1; carry .gl only if the device lacks libvulkan" >&2
fi

{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- src bench scripts/gpu-check 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "node: $NODE_VERSION ($NODE_BIN)"
  echo "webgpu: $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' node_modules/webgpu/package.json | head -1)"
  echo "tfjs: $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' node_modules/@tensorflow/tfjs-core/package.json | head -1)"
  (cd "$CARRY" && find . -type f ! -name MANIFEST ! -name node.sha256 | sort | xargs sha256sum)
} > "$CARRY/MANIFEST"

CARRY_BYTES=$(du -sb "$CARRY" .gl 2>/dev/null | awk '{s+=$1} END {print s+0}')
TREE_BYTES=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
TOTAL=$((CARRY_BYTES + TREE_BYTES))
echo
ls -l "$CARRY" "$CARRY/app"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "carry $CARRY + .gl: $(mib "$CARRY_BYTES"); working tree that travels: $(mib "$TREE_BYTES"); total $(mib "$TOTAL") of 64 MiB"
if [ "$TOTAL" -gt "$LIMIT" ]; then
  echo "prepare.sh: over the 64 MiB a device call may send" >&2
  exit 1
fi
grep -qx '/.gpu-carry/' .gitignore || echo "prepare.sh: warning: .gitignore lacks /.gpu-carry/ (the folder would travel twice)" >&2
echo "ready: see scripts/gpu-check/README.md for the device call"
