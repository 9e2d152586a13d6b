#!/bin/sh
# Installs the PyTorch peer of `npm run bench` (Debian/Ubuntu): python3-torch (1.13 on
# Debian 12) and the pthread OpenBLAS it runs its matrix products on. The benchmark runs
# without them too (ours only, no parity check, no peer column). Needs root (or sudo).
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench-setup: apt-get not found; install PyTorch for /usr/bin/python3 yourself (or set BENCH_PYTHON)." >&2
  exit 1
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y python3-torch libopenblas0-pthread
/usr/bin/python3 -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
