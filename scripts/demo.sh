#!/usr/bin/env bash
# Set up .venv if needed, then run the main job on bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export NO_ALBUMENTATIONS_UPDATE=1
# Until `reflect demo` exists: a short CycleGAN training on generated window images (not a useful
# model), ending with a translation of generated images.
echo "reflect: no demo pipeline yet; training a tiny CycleGAN on generated images instead" >&2
.venv/bin/reflect train configs/smoke.yaml train.steps=40 out_dir=runs
echo "samples: runs/smoke/samples/"
