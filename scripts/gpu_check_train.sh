#!/usr/bin/env bash
# Check verifier training on a CUDA machine in one command: device, the training tests (GPU ones
# included, the slow ones not), SFT under accelerate launch with the one-GPU config, then the
# training-step benchmark at its GPU shape and a few GRPO steps. Prints
# everything; exits non-zero if a step failed, but always runs every step.
#
#   bash scripts/gpu_check_train.sh            # PYTHON=/path/to/python to pick the interpreter
#
# Needs torch (CUDA build), triton, transformers, tokenizers, safetensors, peft (extra ml), and
# TRL (extra rl) for the GRPO steps.
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

section "SFT under accelerate launch -m prover.cli (scripts/accelerate/one_gpu.yaml), tiny model"
work=$(mktemp -d)
if "$PY" - "$work" <<'PY'
import json, sys
from pathlib import Path
sys.path.insert(0, "tests/llm")
from tiny_model import build_tiny_model
work = Path(sys.argv[1])
build_tiny_model(work / "tiny")
with open(work / "sft.jsonl", "w") as f:
    for i in range(16):
        f.write(json.dumps({"messages": [
            {"role": "user", "content": f"Grade this proof.\nProblem: Prove that {2 * i} plus 2 is even.\nProof: Both are even."},
            {"role": "assistant", "content": "Here is my evaluation of the solution: fine. \\boxed{1}"}]}) + "\n")
PY
then
    HF_HUB_OFFLINE=1 "$PY" -m accelerate.commands.launch --config_file scripts/accelerate/one_gpu.yaml \
        -m prover.cli train verifier --data "$work/sft.jsonl" --model "$work/tiny" --out "$work/out" \
        --epochs 2 --batch-tokens 512 --lr 3e-3 --no-progress || failed+=("sft-accelerate")
else
    failed+=("sft-data")
fi

section "benchmark: one training step, fused against plain, GPU shape"
"$PY" scripts/bench_train.py --device cuda || failed+=("bench")

section "GRPO: a few steps through TRL on one GPU (tiny model; GRPO_MODEL=DIR for a small open model)"
if "$PY" -c "import trl" 2>/dev/null; then
    HF_HUB_OFFLINE=1 "$PY" scripts/grpo_check.py --device cuda --steps 4 || failed+=("grpo-tiny")
    if [ -n "${GRPO_MODEL:-}" ]; then
        HF_HUB_OFFLINE=1 "$PY" scripts/grpo_check.py --device cuda --steps 3 --model "$GRPO_MODEL" \
            --max-completion-length 256 --verifier-reward || failed+=("grpo-model")
    fi
else
    echo "(TRL not installed: pip install -e '.[rl]')"; failed+=("grpo-trl")
fi

section "summary"
if [ ${#failed[@]} -eq 0 ]; then
    echo "gpu_check_train: all steps passed"
else
    echo "gpu_check_train: FAILED steps: ${failed[*]}"
    exit 1
fi
