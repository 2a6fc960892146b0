"""The flags every script shares, and the wrapper that turns a UserError into one line on stderr + exit 2."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

import yaml

from fxlab import UserError
from fxlab.config import DEVICES, Config, load_config, load_yaml, short
from fxlab.train.threads import setup_threads


def base_parser(prog: str, description: str, training: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config, e.g. experiments/configs/arithmetic_small.yaml")
    p.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    p.add_argument("--device", choices=DEVICES, default=None, help="overrides the config's device")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set training.batch_size=64 (repeatable)")
    if training:
        p.add_argument("--epochs", type=int, default=None, help="overrides training.epochs")
        p.add_argument("--resume", action="store_true", help="continue from <results_dir>/<model>/last.*")
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    """load_config with --set, --seed, --device and --epochs applied on top (flags win over --set)."""
    overrides, origins = {}, {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = load_yaml(value)
        except (yaml.YAMLError, ValueError) as e:
            why = getattr(e, "problem", None) or "not valid YAML"
            raise UserError(f"--set {key}: cannot parse value {short(value)} as YAML: {why}") from None
        origins[key.strip()] = f"--set {item}"
    for key, flag in (("seed", "seed"), ("device", "device"), ("training.epochs", "epochs")):
        if getattr(args, flag, None) is not None:  # a flag wins over --set of the same key
            overrides[key], origins[key] = getattr(args, flag), f"--{flag} {getattr(args, flag)}"
    return load_config(Path(args.config).expanduser(), overrides, origins)


def run_main(prog: str, body: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None) -> int:
    """Run a script body; a UserError becomes `prog: error: message` on stderr and SystemExit(2); Ctrl-C
    becomes exit 130, and an interruption that carries its signal (fxlab.train.loop.Interrupted) 128 + signal."""
    try:
        setup_threads()  # 1 CPU thread unless FLUXEM_THREADS / OMP_NUM_THREADS say otherwise (fxlab.train.threads)
        return body(argv) or 0
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except (PermissionError, IsADirectoryError) as e:  # the user's file system, not a bug: say where
        print(f"{prog}: error: {e.strerror}: {e.filename}; check the path and its permissions", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        print(f"{prog}: error: no space left on the device writing {e.filename or 'a file'}; free some space "
              "(finished files and checkpoints are intact: every write is atomic)", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"{prog}: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        raise SystemExit(128 + signum) from None


def train_main(prog: str, model: str, description: str, argv: Sequence[str] | None) -> int:
    """The whole body of the train_*.py scripts, which differ only by the model name. They run unchanged
    under torchrun (fxlab/train/dist.py): `torchrun --standalone --nproc_per_node 2 train_hybrid.py --config ...`."""
    from fxlab.train.loop import train  # torch is imported only by the scripts that train

    def body(args_in) -> int:
        args = base_parser(prog, description, training=True).parse_args(args_in)
        summary = train(model, config_from_args(args), resume=args.resume)
        if summary.get("rank", 0) != 0:  # under torchrun, rank 0 alone reports
            return 0
        print(f"[{model}] done: best val exact match {100 * summary['best_val_exact_match']:.1f}% "
              f"(epoch {summary['best_epoch']}), {summary['seconds']:.1f}s; checkpoints in {summary['run_dir']}")
        return 0

    return run_main(prog, body, argv)
