"""Train the character-level transformer baseline (model "token_only").

    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_small.yaml --resume

Needs the data of generate_data.py. Writes <results_dir>/token_only/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
Ctrl-C saves nothing half-written and exits 130; --resume continues exactly where the last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.loop import train

PROG = "train_token_only.py"
MODEL = "token_only"


def _main(argv) -> int:
    args = base_parser(PROG, __doc__, training=True).parse_args(argv)
    summary = train(MODEL, config_from_args(args), resume=args.resume)
    print(f"[{MODEL}] done: best val exact match {100 * summary['best_val_exact_match']:.1f}% "
          f"(epoch {summary['best_epoch']}), {summary['seconds']:.1f}s; checkpoints in {summary['run_dir']}")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
