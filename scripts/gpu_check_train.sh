#!/usr/bin/env bash
# Check verifier training on a CUDA machine in one command: device, the training tests (GPU ones
# included, the slow ones not), then the training-step benchmark at its GPU shape. Prints
# everything; exits non-zero if a step failed, but always runs every step.
#
#   bash scripts/gpu_check_train.sh            # PYTHON=/path/to/python to pick the interpreter
#
# Needs torch (CUDA build), triton, transformers, tokenizers, safetensors, peft (extra ml).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
failed=()

section() { printf '\n===== %s =====\n' "$1"; }

section "device"
nvidia-smi || echo "(nvidia-smi not available)"
"$PY" -c "import torch, transformers; print('torch', torch.__version__, '| transformers', transformers.__version__, \
'| cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" || failed+=("torch")

section "training tests (pytest tests/train -m 'not slow')"
HF_HUB_OFFLINE=1 "$PY" -m pytest tests/train -q -rs -p no:cacheprovider -m "not slow" || failed+=("tests")

section "benchmark: one training step, fused against plain, GPU shape"
"$PY" scripts/bench_train.py --device cuda || failed+=("bench")

section "summary"
if [ ${#failed[@]} -eq 0 ]; then
    echo "gpu_check_train: all steps passed"
else
    echo "gpu_check_train: FAILED steps: ${failed[*]}"
    exit 1
fi
