#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it; quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}   # GPU users: TORCH_SPEC=torch (or their own build)
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "installing (first time: a few minutes)"
    python -m pip install -q --upgrade pip
    python -c "import torch" 2>/dev/null || python -m pip install -q "$TORCH_SPEC"
    python -m pip install -q -e ".[dev,llm]"   # llm: llm-compressor methods (see pyproject)
    rm -f .venv/.installed-*
    touch "$stamp"
fi
