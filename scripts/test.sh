#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite (slow-marked tests excluded; pass -m slow to run them).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed" >&2; exit 1; }
export NO_ALBUMENTATIONS_UPDATE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=900 "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit $rc
