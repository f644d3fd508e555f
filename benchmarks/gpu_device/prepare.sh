#!/usr/bin/env bash
# Prepares, on a developer's machine with network access, what the GPU checks need on the device
# machine (Python 3.12, PyTorch/CuPy/cuda-python already there, no network): remoteviz's own
# dependencies as cp312 wheels in .whl/ and the EGL/GL loader packages in .gl/, both ignored by
# git. Then, through the device tool: run `bash benchmarks/gpu_device/check.sh` with carry
# [".whl", ".gl"] and a timeout that leaves time to run it again (docs/performance.md, GPU section).
set -euo pipefail
cd "$(dirname "$0")/../.."
for folder in .whl .gl; do
  grep -qx "/$folder/" .git/info/exclude 2>/dev/null || echo "/$folder/" >> "$(git rev-parse --git-path info/exclude)"
done
mkdir -p .whl .gl /tmp/amd64/partial
# What the device image lacks (its list: .library/device/KINDS.md); aiohttp, numpy, Pillow, psutil,
# pytest and pytest-timeout are there.
wheels=(websockets simplejpeg av PyOpenGL glfw trimesh fast-simplification)
platforms=()
for n in 17 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
for wheel in "${wheels[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" --platform manylinux2014_x86_64 --platform any -d .whl "$wheel"
done
apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
apt-get "${apt_options[@]}" update -qq
(cd .gl && apt-get "${apt_options[@]}" download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
du -sh .whl .gl
