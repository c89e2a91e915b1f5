#!/usr/bin/env bash
# Check the kernels on a CUDA machine in one command: device and versions, the kernel tests
# (GPU tests included), then the GPU benchmarks. Prints everything; exits non-zero if a step
# failed, but always runs every step.
#
#   bash scripts/gpu_check_kernels.sh            # PYTHON=/path/to/python to pick the interpreter
#
# Needs torch (CUDA build) and triton; pytest for the tests. When `prover` is not installed it
# tries an offline editable install, and failing that imports the checkout through a shim.
set -u
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python}
failed=()

section() { printf '\n===== %s =====\n' "$1"; }

section "device"
nvidia-smi || echo "(nvidia-smi not available)"
"$PY" - <<'EOF' || failed+=("torch/cuda")
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
try:
    import triton
    print("triton", triton.__version__)
except ImportError as exc:
    print("triton NOT importable:", exc)
if not torch.cuda.is_available():
    raise SystemExit("torch.cuda.is_available() is False: the GPU tests and benchmark cannot run")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i}", torch.cuda.get_device_name(i), f"{p.total_memory / 2**30:.1f} GiB",
          f"sm_{p.major}{p.minor}")
EOF

section "prover.kernels import"
if ! "$PY" -c "import prover.kernels.linear_cross_entropy" 2>/dev/null; then
    echo "prover is not installed here; trying an offline editable install"
    "$PY" -m pip install --no-deps --no-build-isolation -q -e . 2>&1 | tail -n 3
fi
if ! "$PY" -c "import prover.kernels.linear_cross_entropy" 2>/dev/null; then
    # A package dir of links: prover/* plus kernels/ as prover/kernels (the install mapping).
    SHIM=$(mktemp -d)
    mkdir "$SHIM/prover"
    for entry in "$REPO"/prover/*; do ln -s "$entry" "$SHIM/prover/"; done
    ln -s "$REPO/kernels" "$SHIM/prover/kernels"
    export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONSAFEPATH=1  # keep the checkout's own prover/ (without kernels) off sys.path
    echo "using the import shim $SHIM"
fi
"$PY" -c "import prover.kernels.linear_cross_entropy as m; print('prover.kernels from', m.__file__)" \
    || failed+=("import")

section "kernel tests (pytest tests/kernels)"
"$PY" -m pytest tests/kernels -q -rs -p no:cacheprovider || failed+=("tests")

section "benchmark: fused linear cross-entropy, GPU shape"
"$PY" scripts/bench_kernels.py --device cuda --op ce || failed+=("bench ce")

section "benchmark: selective log-probs, GPU shape"
"$PY" scripts/bench_kernels.py --device cuda --op logprobs || failed+=("bench logprobs")

section "benchmark: selective log-probs, frozen head (LoRA), GPU shape"
"$PY" scripts/bench_kernels.py --device cuda --op logprobs --frozen-head \
    || failed+=("bench logprobs frozen")

section "summary"
if [ ${#failed[@]} -eq 0 ]; then
    echo "gpu_check_kernels: all steps passed"
else
    echo "gpu_check_kernels: FAILED steps: ${failed[*]}"
    exit 1
fi
