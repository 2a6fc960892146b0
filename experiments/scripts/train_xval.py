"""Train the xVal baseline (model "xval"; Golkar et al. 2023): one [NUM] token scaled by each number's
value, plus a number head that regresses the answer's value (fxlab/models/xval.py says exactly what it does and
where it departs from the paper).

    python experiments/scripts/train_xval.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/train_xval.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_xval.py --config experiments/configs/arithmetic_small.yaml --resume

Needs the data of generate_data.py (checked against its manifest.json). Every train and val record is
encoded before an earlier run's checkpoints are replaced; one the model cannot take is named
file:line (exit 2). Writes <results_dir>/xval/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
It shares fxlab/train/loop.py with the other training scripts and uses the config's model and training
sections as they are. Ctrl-C saves nothing half-written and exits 130; --resume continues exactly where
the last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import train_main


def main(argv=None) -> int:
    return train_main("train_xval.py", "xval", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
