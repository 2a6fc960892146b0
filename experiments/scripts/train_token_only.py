"""Train the character-level transformer baseline (model "token_only").

    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_token_only.py --config experiments/configs/arithmetic_small.yaml --resume

Needs the data of generate_data.py (checked against its manifest.json). Every train and val record is
encoded before an earlier run's checkpoints are replaced; one the model cannot take is named
file:line (exit 2). Writes <results_dir>/token_only/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
Ctrl-C saves nothing half-written and exits 130; --resume continues exactly where the last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import train_main


def main(argv=None) -> int:
    return train_main("train_token_only.py", "token_only", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
