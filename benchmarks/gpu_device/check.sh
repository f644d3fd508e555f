#!/usr/bin/env bash
# The GPU checks of issue 24, run on the device machine from the repository root after
# prepare.sh (see there): the EGL loaders unpacked, the carried wheels installed, then
#   1. the renderer EGL picks with no setting, logged (the NVIDIA GL_RENDERER line);
#   2. the rendering and encoder test files, on the GPU (timings printed by pytest), the GPU JPEG
#      probe's answer and its tests (tests/integration/test_gpu_jpeg_on_device.py: nvJPEG's bytes
#      decode to the picture, Encoder.JPEG opens on the GPU by itself, a service sends GPU JPEG);
#   3. h264_nvenc: refused where the GPU has no NVENC, and the seed's fallback taken;
#   4. benchmarks/gpu.py's table (JPEG encode ms and bytes on the CPU and on the GPU; viewers with
#      JPEG on either).
# Everything printed also goes to $OUT/gpu_check.log, and the benchmark's JSON to $OUT.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYOPENGL_PLATFORM=egl PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
{
  echo "== 1. the renderer"; nvidia-smi -L
  python3 - <<'PY'
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
import remoteviz as rv
from remoteviz.rendering.context import egl_devices
print("EGL devices:", [d.describe() for d, _ in egl_devices()])
manager = rv.SceneManager(); manager.scene_graph = rv.Cone()
print("rendered", manager.render(64, 48).shape)
PY
  echo "== 2. rendering and encoder tests on the GPU"
  timeout 60 python3 -c "from remoteviz.encoders import gpu_jpeg; print('GPU JPEG probe:', gpu_jpeg.probe())"
  timeout 240 python3 -m pytest -q -rs -p no:cacheprovider --durations=15 -o addopts="" \
    tests/unit/rendering tests/unit/test_frame_encoders.py tests/unit/test_video_encoder.py \
    tests/unit/test_gpu_jpeg.py tests/integration/test_gpu_jpeg_on_device.py \
    tests/integration/test_hello_cone.py tests/integration/test_render_threads.py
  echo "== 3. h264_nvenc on this GPU"
  timeout 60 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/integration/test_video.py -k nvenc
  python3 -c "from remoteviz.encoders.video import probe; print('h264_nvenc works:', probe('h264_nvenc'))"
  echo "== 4. benchmarks/gpu.py"
  timeout 200 python3 -m benchmarks.gpu --frames 10 --seconds 3 --output "$OUT/gpu.json"
} 2>&1 | tee "$OUT/gpu_check.log"
