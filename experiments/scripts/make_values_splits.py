"""Write test splits of mathematics_dataset's comparison modules that separate reading values from memorising
them, as two-line files for `eval.py --data`:

    python experiments/scripts/make_values_splits.py                             # from the committed sample
    python experiments/scripts/make_values_splits.py --source ../shared/mathds   # the full 2,000 per module
    python experiments/scripts/eval.py --config experiments/configs/mathds_small.yaml \\
        --data experiments/data/values_splits/comparison__pair_mag_up.txt --models hybrid

For each module (pair, closest, kth_biggest, sort), from <source>/interpolate/comparison__<module>.txt:

- comparison__<module>_mag_up.txt: every problem with all its numbers times 10**k, k uniform in 6..12 per
  problem (the answer's letter / truth value unchanged, a value answer scaled the same way);
- comparison__<module>_mag_down.txt: the same problems times 10**-k (the same k);
- comparison__<module>_close.txt: --n new problems in the module's wording whose deciding values differ by
  under 1% relative (fxlab/tasks/values_splits.py says which values).

Seeded (`--seed`): the same source and seed give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from fxlab import UserError
from fxlab.cli import run_main
from fxlab.config import SEED_MAX
from fxlab.data import atomic_write_bytes
from fxlab.tasks.mathds_data import read_problems
from fxlab.tasks.values_splits import MODULES, close_problem, scale_problem

PROG = "make_values_splits.py"
K_RANGE = (6, 12)


def two_line_bytes(problems: list[tuple[str, str]]) -> bytes:
    return "".join(f"{q}\n{a}\n" for q, a in problems).encode("utf-8")


def module_splits(problems: list[tuple[str, str]], module: str, n: int, seed: int) -> dict[str, list]:
    """{file stem: problems} of one module: mag_up, mag_down, close. Each module and split has its own
    random stream, so one file does not change when another module's source does."""
    rng = random.Random(f"{seed}/{module}/mag")
    ks = [rng.randint(*K_RANGE) for _ in problems]
    close_rng = random.Random(f"{seed}/{module}/close")
    return {
        f"comparison__{module}_mag_up": [scale_problem(q, a, k) for (q, a), k in zip(problems, ks)],
        f"comparison__{module}_mag_down": [scale_problem(q, a, -k) for (q, a), k in zip(problems, ks)],
        f"comparison__{module}_close": [close_problem(module, close_rng) for _ in range(n)],
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("experiments/mathds_sample"),
                        help="a folder holding interpolate/comparison__<module>.txt (default: "
                             "experiments/mathds_sample; ../shared/mathds for the full files)")
    parser.add_argument("--out", type=Path, default=Path("experiments/data/values_splits"),
                        help="the folder to write the 12 files into (created; default: "
                             "experiments/data/values_splits)")
    parser.add_argument("--n", type=int, default=None,
                        help="close problems per module (default: as many as the module's source file holds)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed, in [0, 2**32 - 1]; the same seed gives the same bytes (default: 0)")
    return parser


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.n is not None and args.n < 1:
        raise UserError(f"--n must be >= 1, got {args.n}")
    if not 0 <= args.seed <= SEED_MAX:
        raise UserError(f"--seed must be an integer in [0, {SEED_MAX}], got {args.seed}")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; give a folder")
    sources = {m: args.source / "interpolate" / f"comparison__{m}.txt" for m in MODULES}
    for path in sources.values():
        if not path.is_file():
            raise UserError(f"--source {args.source}: missing interpolate/{path.name}; expected a "
                            "mathematics_dataset folder such as experiments/mathds_sample or ../shared/mathds")
    for module, path in sources.items():
        problems = [(q, a) for _, q, a in read_problems(path)]
        if not problems:
            raise UserError(f"{path}: no problems")
        try:
            splits = module_splits(problems, module, args.n or len(problems), args.seed)
        except AssertionError as e:  # a source answer that disagrees with its question
            raise UserError(f"{path}: {e}") from None
        for stem, rows in splits.items():
            atomic_write_bytes(args.out / f"{stem}.txt", two_line_bytes(rows))
            print(f"wrote {len(rows)} problems to {args.out / stem}.txt")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
