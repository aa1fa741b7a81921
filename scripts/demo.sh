#!/usr/bin/env bash
# Set up .venv if needed, then run the main job on the bundled sample faces: synthesise windshield
# window crops of them, clean stills and a video with the bundled model, evaluate face recognition
# before/after, and write runs/demo/report.html (its path is printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export NO_ALBUMENTATIONS_UPDATE=1
.venv/bin/reflect demo "$@"
