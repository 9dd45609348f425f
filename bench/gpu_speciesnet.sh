#!/usr/bin/env bash
# SpeciesNet on CUDA, in under 5 minutes, on a machine with an NVIDIA GPU and a copy of this repo
# (no .venv needed, no network assumed):
#
#     bash bench/gpu_speciesnet.sh
#
# 1. finds a Python with torch (.venv, python3, python); only if none has it, tries
#    `pip install torch==2.14.1 torchvision==0.29.1` (needs PyPI) and says clearly what is missing;
# 2. builds a SpeciesNet-format folder of SpeciesNet v4's compute (EfficientNet-V2-M, random weights,
#    2,498 outputs, float32 NHWC 480 x 480; bench/speciesnet_stand_in.py);
# 3. prints the raw CUDA model rate and the worker pipeline rate (decode + SpeciesNet crop/resize on
#    CPU threads, micro-batched forward pass) at max batch 1 / 16 / 64, channels_last, autocast in
#    bf16 (what the worker picks where supported) and fp16;
# 4. prints how far CUDA's probabilities are from the CPU's (float32) on the same photos.
# Photos: ../shared/data/photos where present, else synthetic 2048 x 1536 JPEGs.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
WORK="${TMPDIR:-/tmp}/rangewatch-gpu-speciesnet"
mkdir -p "$WORK"
started=$(date +%s)

PY=""
for candidate in .venv/bin/python python3 python; do
  if { [ -x "$candidate" ] || command -v "$candidate" >/dev/null 2>&1; } && "$candidate" -c "import torch" 2>/dev/null; then
    PY="$candidate"
    break
  fi
done
if [ -z "$PY" ]; then
  echo "== no Python here imports torch; trying: python3 -m pip install torch==2.14.1 torchvision==0.29.1"
  if timeout 240 python3 -m pip install --quiet torch==2.14.1 torchvision==0.29.1 2>&1 | tail -3 && python3 -c "import torch" 2>/dev/null; then
    PY=python3
  else
    echo "MISSING: torch (and torchvision). Install torch==2.14.1 torchvision==0.29.1 for python3, then rerun."
    exit 2
  fi
fi
echo "== python: $(command -v "$PY" || echo "$PY") ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

missing=$("$PY" - <<'EOF'
import importlib.util
need = {"torch": "torch==2.14.1", "torchvision": "torchvision==0.29.1", "numpy": "numpy==2.4.6", "PIL": "pillow==13.0.0"}
print(" ".join(pin for module, pin in need.items() if importlib.util.find_spec(module) is None))
EOF
)
if [ -n "$missing" ]; then
  echo "== missing: $missing; trying pip (needs PyPI)"
  # shellcheck disable=SC2086
  timeout 180 "$PY" -m pip install --quiet $missing 2>&1 | tail -3
fi
"$PY" - <<'EOF' || exit 3
import importlib.util
missing = [m for m in ("torch", "torchvision", "numpy", "PIL") if importlib.util.find_spec(m) is None]
if missing:
    raise SystemExit(f"MISSING: {', '.join(missing)} (pins in requirements.txt); nothing measured")
import torch
print(f"== torch {torch.__version__}, CUDA {torch.version.cuda}, available: {torch.cuda.is_available()}")
if not torch.cuda.is_available():
    raise SystemExit("MISSING: a CUDA device visible to torch (nvidia-smi, CUDA_VISIBLE_DEVICES); nothing measured")
print(f"== device: {torch.cuda.get_device_name(0)}, bf16: {torch.cuda.is_bf16_supported()}, cores: {__import__('os').cpu_count()}")
EOF

echo "== building the stand-in (EfficientNet-V2-M, SpeciesNet format) in $WORK"
"$PY" - "$WORK" <<'EOF' || exit 4
import sys
from pathlib import Path
from bench.speciesnet_rates import model_folder
print(model_folder("stand-in-v2m", Path(sys.argv[1])))
EOF

echo "== raw model rate on CUDA (pre-decoded inputs) and CPU vs CUDA agreement"
timeout 150 "$PY" - "$WORK" <<'EOF'
import sys, time
from pathlib import Path
import numpy as np
import torch
from bench.inference import bench_raw, camera_trap_jpegs
from bench.speciesnet_rates import cpu_cuda_agreement, model_folder, synthetic_jpegs
from ml.engine import Classifier

work = Path(sys.argv[1])
folder = model_folder("stand-in-v2m", work)
paths = camera_trap_jpegs()[:8] or synthetic_jpegs(work / "synthetic-jpegs")[:8]
for dtype in (None, torch.float16):
    clf = Classifier.load(folder, backend="torch", device="cuda")
    if dtype is not None:
        clf.runner.dtype = dtype
    inputs = np.stack([clf.preprocess(p) for p in paths])
    rates = {b: bench_raw(clf, inputs, b, 3.0) for b in (1, 16, 64)}
    print(f"raw {clf.runner.dtype}: " + ", ".join(f"batch {b} {r:.1f} img/s" for b, r in rates.items()))
print("agreement:", cpu_cuda_agreement(folder, paths))
EOF

for precision in bf16 fp16; do
  echo "== pipeline on CUDA, autocast $precision (bf16 is what the worker uses where supported)"
  flag=""
  [ "$precision" = fp16 ] && flag="--fp16"
  # shellcheck disable=SC2086
  timeout 100 "$PY" bench/inference.py --arch speciesnet --model "$WORK/speciesnet-stand-in-v2m" --device cuda \
    --speciesnet-batches 1 16 64 --threads 16 --quick --artifacts "$WORK" $flag 2>&1 | grep -v Warning
done
echo "== done in $(( $(date +%s) - started )) s"
