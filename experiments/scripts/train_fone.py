"""Train the FoNE baseline (model "fone"; Zhou et al. 2025): every number is one [NUM] token carrying its
Fourier features (cos/sin of 2 pi x / 10^i, one pair per digit), and each answer number is read digit by
digit from the last hidden state (fxlab/models/fone.py says exactly what it does and where it departs from the
paper).

    python experiments/scripts/train_fone.py --config experiments/configs/arithmetic_addsub.yaml
    python experiments/scripts/train_fone.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_fone.py --config experiments/configs/arithmetic_addsub.yaml --resume

Needs the data of generate_data.py. Writes <results_dir>/fone/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
It shares fxlab/train/loop.py with the other training scripts and uses the config's model and training
sections as they are (model.fone_int_digits 0: the digit count is fitted on the training split and saved
with the weights). Ctrl-C saves nothing half-written and exits 130; --resume continues exactly where the
last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import train_main


def main(argv=None) -> int:
    return train_main("train_fone.py", "fone", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
