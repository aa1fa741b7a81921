#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv. Idempotent: a stamp file holds the
# hash of pyproject.toml and this script, so a re-run with nothing changed costs a second.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_ALBUMENTATIONS_UPDATE=1
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
stamp=.venv/.reflect-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: building the virtual environment in .venv (about 3 minutes the first time)" >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "setup: [1/4] pip, setuptools, wheel" >&2
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# torch and torchvision first, from the local wheel store (see pyproject.toml for why this pair).
echo "setup: [2/4] torch 2.14.1 and torchvision 0.29.1 (the largest step)" >&2
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
echo "setup: [3/4] reflect and its dependencies (faces, dev, ray)" >&2
.venv/bin/python -m pip install -q -e ".[faces,dev,ray]"
# facenet-pytorch pins torch<2.3, which would replace our torch: install it without its dependencies.
echo "setup: [4/4] facenet-pytorch (MTCNN)" >&2
.venv/bin/python -m pip install -q --no-deps "facenet-pytorch==2.6.0"
echo "$want" >"$stamp"
echo "setup: done" >&2
