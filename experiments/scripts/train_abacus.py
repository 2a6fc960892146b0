"""Train the Abacus baseline (model "abacus"; McLeish et al. 2024): the character-level token model with
every number written least-significant digit first and a learned embedding of each digit's place within
its number, shifted by a random offset in training (fxlab/models/abacus.py says exactly what it does and where
it departs from the paper).

    python experiments/scripts/train_abacus.py --config experiments/configs/arithmetic_addsub.yaml
    python experiments/scripts/train_abacus.py --config experiments/configs/arithmetic_tiny.yaml --epochs 2
    python experiments/scripts/train_abacus.py --config experiments/configs/arithmetic_addsub.yaml --resume

Needs the data of generate_data.py. Writes <results_dir>/abacus/: config.json, metrics.jsonl,
best.pt/.json (best validation exact match; eval.py loads it) and last.pt/.json (for --resume).
It shares fxlab/train/loop.py with the other training scripts and uses the config's model and training
sections as they are (model.abacus_max_k: the largest training offset). Ctrl-C saves nothing
half-written and exits 130; --resume continues exactly where the last epoch ended.
"""

from __future__ import annotations

import sys

from fxlab.cli import train_main


def main(argv=None) -> int:
    return train_main("train_abacus.py", "abacus", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
