"""Generate the JSONL data of an experiment config into its paths.data_dir.

    python experiments/scripts/generate_data.py --config experiments/configs/arithmetic_small.yaml
    python experiments/scripts/generate_data.py --config experiments/configs/arithmetic_tiny.yaml --seed 7

Writes train.jsonl, val.jsonl, test_id.jsonl, test_ood_magnitude.jsonl, test_ood_length.jsonl and a
manifest.json (sizes and sha256 of each file). The same config and seed give byte-identical files; val and
test texts never appear in train. A bad config exits 2 with a one-line message.

The training scripts and eval.py load a split only if manifest.json vouches for it (its sha256), so a run
cut short (Ctrl-C, SIGTERM: exit 130 / 143; or SIGKILL) never leaves a mixture of two runs' files that
they would use: the manifest is marked incomplete before the first file is replaced, and they ask for a
rerun. A second generate_data.py on the same data_dir exits 2 while one is writing (a lock,
`<data_dir>/.lock`, deleted when the run ends).
"""

from __future__ import annotations

import sys
import time

from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.data import dir_lock, remove_stray_tmp, sigterm_raises, write_dataset
from fxlab.tasks import generate

PROG = "generate_data.py"


def _main(argv) -> int:
    args = base_parser(PROG, __doc__).parse_args(argv)
    cfg = config_from_args(args)
    start = time.perf_counter()
    with sigterm_raises():
        splits = generate(cfg)  # in memory: the folder is untouched until every split is drawn
        with dir_lock(cfg.data_path, doing="writing", instead="give this run another --set paths.data_dir=...",
                      keep_file=False):
            remove_stray_tmp(cfg.data_path)  # left by a run that was killed (SIGKILL) mid-write
            try:
                manifest = write_dataset(cfg, splits, cfg.data_path)
            except KeyboardInterrupt:
                print(f"{PROG}: the data in {cfg.data_path} is unfinished (training and eval refuse it); rerun "
                      "this command", file=sys.stderr)
                raise
    for name, info in manifest["files"].items():
        print(f"{cfg.data_path / name}: {info['n']} records")
    print(f"generated {cfg.task} data (seed {cfg.seed}) in {time.perf_counter() - start:.1f}s")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
