"""Generate the JSONL data of an experiment config into its paths.data_dir.

    python experiments/scripts/generate_data.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/generate_data.py --config experiments/configs/arithmetic_tiny.yaml --seed 7

Writes train.jsonl, val.jsonl, test_id.jsonl, test_ood_magnitude.jsonl, test_ood_length.jsonl and a
manifest.json (sizes and sha256 of each file). The same config and seed give byte-identical files; val and
test texts never appear in train. A bad config exits 2 with a one-line message.
"""

from __future__ import annotations

import sys
import time

from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.data import generate, write_dataset

PROG = "generate_data.py"


def _main(argv) -> int:
    args = base_parser(PROG, __doc__).parse_args(argv)
    cfg = config_from_args(args)
    start = time.perf_counter()
    splits = generate(cfg)
    manifest = write_dataset(cfg, splits, cfg.data_path)
    for name, info in manifest["files"].items():
        print(f"{cfg.data_path / name}: {info['n']} records")
    print(f"generated {cfg.task} data (seed {cfg.seed}) in {time.perf_counter() - start:.1f}s")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
