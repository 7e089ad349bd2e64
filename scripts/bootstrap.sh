#!/usr/bin/env bash
# Installs the Debian 12 packages DualSeg needs, only those that are missing (quick when all are
# there). Runs apt-get as root, or through sudo when available.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-openmp-dev libxml2-dev libxml2-utils zlib1g-dev libjansson-dev
  libinsighttoolkit5-dev libgdcm-tools
  libvtk9-dev
  clang libclang-rt-14-dev libomp-dev  # scripts/fuzz.sh: libFuzzer harnesses (testing/fuzz/)
)
# Reference scripts (PyTorch / scipy fixtures) and benchmarks: wanted, not needed by the tests,
# which use committed fixtures. DS_BOOTSTRAP_PYTHON=1 installs them too.
if [[ "${DS_BOOTSTRAP_PYTHON:-0}" == 1 ]]; then
  packages+=(python3 python3-numpy python3-scipy python3-torch
            python3-nibabel)  # testing/infer/bench_infer_torch.py reads the Hippocampus volume
fi

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "bootstrap: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
