#!/usr/bin/env bash
# Run the whole pipeline for one config: data -> token-only baseline -> xVal baseline -> Abacus and FoNE
# baselines (arithmetic only) -> hybrid -> evaluation.
#
#   bash experiments/scripts/run_all_experiments.sh experiments/configs/arithmetic_small.yaml
#   PYTHON=.venv/bin/python bash experiments/scripts/run_all_experiments.sh experiments/configs/arithmetic_tiny.yaml
#   bash experiments/scripts/run_all_experiments.sh experiments/configs/arithmetic_small.yaml --resume
#
# Extra arguments after the config go to every script (e.g. --seed 1, --device cpu, --set KEY=VALUE).
# --resume continues a stopped run with the same arguments: it keeps the data when <data_dir>/manifest.json
# lists every file of the task, made from this seed and data config and unchanged since (else regenerates
# them), skips each model whose last.json is a finished run (all epochs, or stopped early) of this config
# and data with its best.pt in place, continues every other model with the training scripts' --resume, and
# then evaluates.
# Uses $PYTHON if set, else the `python` in PATH. Stops at the first failing step.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 CONFIG.yaml [--resume] [--seed N] [--device auto|cpu|cuda] [--set KEY=VALUE]" >&2
    exit 2
fi
CONFIG="$1"
shift
RESUME=0
ARGS=()
for arg in "$@"; do
    if [[ "$arg" == "--resume" ]]; then RESUME=1; else ARGS+=("$arg"); fi
done
PY="${PYTHON:-python}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START=$SECONDS

step() {
    echo "==> $*"
    local t0=$SECONDS
    "$PY" "$@"
    echo "==> $(basename "$1"): $((SECONDS - t0))s"
}

# What --resume does with the data ("data") or one model: prints "<verdict> <reason>". The config is read
# as the scripts read it (--set, --seed), so it looks in the folders they write. A verdict that is not
# "keep" / "skip" / "fresh" hands the model to the training script's --resume, which continues it, starts
# it from epoch 1 when no epoch was completed, or says in one line what does not match.
resume_check() {
    PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" "$PY" - "$1" --config "$CONFIG" "${ARGS[@]}" <<'PY'
import json
import sys

from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.config import fingerprint
from fxlab.data import MANIFEST, file_sha256, split_path
from fxlab.tasks import get_task


def read_json(path):
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def data_verdict(cfg):
    manifest = read_json(cfg.data_path / MANIFEST)
    files = manifest.get("files") if manifest else None
    if not isinstance(files, dict) or manifest.get("incomplete"):  # the mark of a generation cut short
        return "make", f"{cfg.data_path / MANIFEST} is missing or incomplete"
    if (manifest.get("task"), manifest.get("seed"), manifest.get("data")) != (
            cfg.task, cfg.seed, json.loads(json.dumps(cfg.to_dict()["data"]))):
        return "make", f"{cfg.data_path} holds the data of another seed or data config"
    splits = get_task(cfg.task).splits(cfg)
    for name in [f"{s}.jsonl" for s in splits]:
        info, path = files.get(name), cfg.data_path / name
        if not isinstance(info, dict) or not path.is_file() or file_sha256(path) != info.get("sha256"):
            return "make", f"{path} is missing, or not the file {MANIFEST} lists"
    return "keep", f"{cfg.data_path} is complete ({MANIFEST} lists every file, unchanged)"


def model_verdict(cfg, name):
    out = cfg.results_path / name
    last = read_json(out / "last.json")
    try:
        planned, state = last["config"]["training"]["epochs"], last["state"]
        epoch, early = state["epoch"], state["stopped_early"]
    except (KeyError, TypeError):
        return "resume", ""
    data_sha = {s: file_sha256(split_path(cfg, s)) for s in ("train", "val") if split_path(cfg, s).is_file()}
    if (planned != cfg.training.epochs or not (early or epoch >= planned) or last.get("data_sha256") != data_sha
            or last.get("fingerprint") not in (fingerprint(cfg, name), fingerprint(cfg))):
        return "resume", ""
    best = read_json(out / "best.json")
    if best is None or not (out / "best.pt").is_file() or file_sha256(out / "best.pt") != best.get("pt_sha256"):
        return "fresh", (f"{out} holds a finished run whose best.pt/best.json is missing or damaged, so it has "
                         "nothing to evaluate: retraining it")
    return "skip", f"{out} holds a finished run ({epoch}/{planned} epochs{', stopped early' if early else ''})"


def body(argv):
    what, rest = argv[0], argv[1:]
    args, _ = base_parser("run_all_experiments.sh", "", training=True).parse_known_args(rest)
    cfg = config_from_args(args)
    print(*(data_verdict(cfg) if what == "data" else model_verdict(cfg, what)))


sys.exit(run_main("run_all_experiments.sh", body, sys.argv[1:]))
PY
}

train() {  # train SCRIPT MODEL
    local script="$1" model="$2" verdict reason plan
    if (( ! RESUME )); then
        step "$HERE/$script" --config "$CONFIG" "${ARGS[@]}"
        return
    fi
    plan="$(resume_check "$model")"
    read -r verdict reason <<< "$plan"
    case "$verdict" in
        skip) echo "==> skipping $script: $reason" ;;
        fresh) echo "==> $reason"
               step "$HERE/$script" --config "$CONFIG" "${ARGS[@]}" ;;
        *) step "$HERE/$script" --config "$CONFIG" "${ARGS[@]}" --resume ;;
    esac
}

PLAN="keep"
if (( RESUME )); then
    PLAN="$(resume_check data)"
fi
if (( RESUME )) && [[ "$PLAN" == keep\ * ]]; then
    echo "==> keeping the data: ${PLAN#keep }"
else
    (( RESUME )) && echo "==> generating the data: ${PLAN#make }"
    step "$HERE/generate_data.py" --config "$CONFIG" "${ARGS[@]}"
fi
train train_token_only.py token_only
TASK="$("$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1], encoding="utf-8")).get("task", ""))' "$CONFIG" 2>/dev/null || true)"
if [[ "$TASK" == "mathds" ]]; then
    # xVal regresses one float: it cannot write the exact fractions (-52304477/3) and long decimals the
    # mathds answers are, and the small config's 5-minute budget has no room for it. Run it by hand if wanted.
    echo "==> skipping train_xval.py for task mathds (see EXPERIMENTS.md)"
else
    train train_xval.py xval
fi
if [[ "$TASK" == "arithmetic" ]]; then
    train train_abacus.py abacus
    train train_fone.py fone
else
    # Both are arithmetic peers (their fairness tests are on addition): FoNE writes answers from a fixed
    # count of decimal digits (no fractions, no "1e-07"); run them by hand on another task if wanted.
    echo "==> skipping train_abacus.py and train_fone.py for task $TASK (arithmetic peers)"
fi
train train_hybrid.py hybrid
step "$HERE/eval.py" --config "$CONFIG" "${ARGS[@]}"

ELAPSED=$((SECONDS - START))
printf '==> done: %s in %dm%02ds\n' "$CONFIG" $((ELAPSED / 60)) $((ELAPSED % 60))
