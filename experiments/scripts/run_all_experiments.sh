#!/usr/bin/env bash
# Run the whole pipeline for one config: data -> token-only baseline -> xVal baseline -> hybrid -> evaluation.
#
#   bash experiments/scripts/run_all_experiments.sh experiments/configs/arithmetic_small.yaml
#   PYTHON=.venv/bin/python bash experiments/scripts/run_all_experiments.sh experiments/configs/arithmetic_tiny.yaml
#
# Extra arguments after the config go to every script (e.g. --seed 1 or --device cpu).
# Uses $PYTHON if set, else the `python` in PATH. Stops at the first failing step.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 CONFIG.yaml [--seed N] [--device auto|cpu|cuda]" >&2
    exit 2
fi
CONFIG="$1"
shift
PY="${PYTHON:-python}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START=$SECONDS

step() {
    echo "==> $*"
    "$PY" "$@"
}

step "$HERE/generate_data.py" --config "$CONFIG" "$@"
step "$HERE/train_token_only.py" --config "$CONFIG" "$@"
step "$HERE/train_xval.py" --config "$CONFIG" "$@"
step "$HERE/train_hybrid.py" --config "$CONFIG" "$@"
step "$HERE/eval.py" --config "$CONFIG" "$@"

ELAPSED=$((SECONDS - START))
printf '==> done: %s in %dm%02ds\n' "$CONFIG" $((ELAPSED / 60)) $((ELAPSED % 60))
