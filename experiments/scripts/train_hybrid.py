"""Train the hybrid model (model "hybrid"): FluxEM span slots + a transformer + the algebraic readout (docs/design.md §5).

    python experiments/scripts/train_hybrid.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/train_hybrid.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_hybrid.py --config experiments/configs/arithmetic_small.yaml --resume

Needs the data of generate_data.py (checked against its manifest.json). Every train and val record is
encoded before an earlier run's checkpoints are replaced; one the model cannot take is named
file:line (exit 2). Writes <results_dir>/hybrid/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
The model itself lives in fxlab/models/hybrid.py (`build(cfg)`); this script and train_token_only.py share
fxlab/train/loop.py and differ only by the model name. Ctrl-C saves nothing half-written and exits 130;
--resume continues exactly where the last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import train_main


def main(argv=None) -> int:
    return train_main("train_hybrid.py", "hybrid", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
