#!/usr/bin/env bash
# What the device `run` executes on the GPU machine, from the repo root (see README.md here):
#   bash scripts/gpu-check/run-on-device.sh [check.ts options...]
# Needs .gpu-carry/ (scripts/gpu-check/prepare.sh) and, where the machine has no Vulkan
# loader, .gl/ (libvulkan1's .deb, also made by prepare.sh): both named in the call's carry.
# Uses nothing of the machine but bash, coreutils, tar and xz (or python3's lzma) and the GPU
# driver. Writes $OUT/gpu-check.json, $OUT/gpu-check.log and $OUT/env.txt.
#
# Environment: OUT (default /tmp/gpu-check-out), GPU_CHECK_WORK (where node and the bundle
# are unpacked; default /tmp/gpu-check), GPU_CHECK_TIMEOUT (seconds; default 320),
# VK_DRIVER_FILES (default: the NVIDIA ICD at /usr/local/nvidia/... where it exists).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-/tmp/gpu-check-out}
WORK=${GPU_CHECK_WORK:-/tmp/gpu-check}
CARRY=.gpu-carry
mkdir -p "$OUT" "$WORK"
LOG=$OUT/gpu-check.log
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }

[ -f "$CARRY/node.xz" ] && [ -f "$CARRY/app/check.cjs" ] && [ -f "$CARRY/webgpu.tar.xz" ] || {
  say "run-on-device: $CARRY is missing or incomplete: run scripts/gpu-check/prepare.sh here and name $CARRY in the call's carry"
  exit 1
}

# xz, or python3's lzma where the image has no xz binary.
unxz_to() { # unxz_to <file.xz> <dest>
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

# 1. Vulkan loader: the device README's .gl trick, only where no libvulkan.so.1 is installed.
#    dpkg -x writes into /, so it runs only when ldconfig is found AND knows no libvulkan.so.1
#    AND none sits in the usual folders (a stripped PATH must not make us overwrite a system).
export PATH="$PATH:/usr/sbin:/sbin"
have_vulkan() {
  local d
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /usr/local/lib; do
    [ -e "$d/libvulkan.so.1" ] && return 0
  done
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'
}
if ! have_vulkan; then
  if ! command -v ldconfig >/dev/null 2>&1; then
    say "WARNING: no libvulkan.so.1 found and no ldconfig: not unpacking .gl (Dawn will likely find no adapter)"
  elif ls .gl/*.deb >/dev/null 2>&1; then
    say "no libvulkan.so.1: unpacking .gl/*.deb into /"
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  else
    say "WARNING: no libvulkan.so.1 and no .gl/*.deb carried: Dawn will find no Vulkan adapter"
  fi
fi

# 2. The NVIDIA ICD (the driver's folder is mounted, but not registered with the loader).
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NV_ICD" ]; then
  export VK_DRIVER_FILES=$NV_ICD
fi

# 3. Node, the bundle, the wasm binaries and node_modules/webgpu, unpacked outside the repo.
unxz_to "$CARRY/node.xz" "$WORK/node" && chmod +x "$WORK/node" || { say "run-on-device: could not unpack node"; exit 1; }
cp "$CARRY"/app/* "$WORK/"
if command -v xz >/dev/null 2>&1; then tar -C "$WORK" -xJf "$CARRY/webgpu.tar.xz"
else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$CARRY/webgpu.tar.xz" "$WORK"
fi || { say "run-on-device: could not unpack webgpu"; exit 1; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "uname: $(uname -a)"
  echo "node: $("$WORK/node" -v 2>&1)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "libvulkan: $(ldconfig -p 2>/dev/null | grep 'libvulkan\.so' | tr -s ' \t' ' ' | tr '\n' ';')"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "carry manifest:"; cat "$CARRY/MANIFEST"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$LOG"

# 4. The check. --out first so that options given to this script can add to it.
cd "$WORK" || exit 1
timeout -k 10 "${GPU_CHECK_TIMEOUT:-320}" "$WORK/node" --no-warnings "$WORK/check.cjs" \
  --wasm-dir "$WORK" --out "$OUT/gpu-check.json" "$@" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
say "gpu-check exit code: $rc"
exit "$rc"
