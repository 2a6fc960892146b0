"""Learning-curve probe for the token-only model: which `+ -` task can a character model learn on a CPU?

Trains `fxlab.models.token_model.TokenOnlyModel` (answers least-significant digit first) on a stream of fresh
random expressions (no fixed training set: every step draws new ones) and prints the exact match on 500
held-out expressions every `--eval-every` steps, with the accuracy of the answer's units digit alone.
This is the measurement behind the choice of `arithmetic_addsub.yaml` (EXPERIMENTS.md, "Token-only
baseline: calibration"); the pipeline itself trains with `train_token_only.py`.

    python experiments/scripts/token_calibration.py --max-ops 1 --hi 99 --operations +,- --steps 4000

Learning rate: linear warmup over 200 steps, then constant. AdamW (betas 0.9, 0.99), grad clip 1.0,
one thread. Same arguments, same numbers (seeds fixed).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from fxlab.config import ModelConfig  # noqa: E402
from fxlab.models.token_model import TokenOnlyModel  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-ops", type=int, default=1, help="operations per expression: 1..max-ops, uniform")
    ap.add_argument("--hi", type=int, default=99, help="operands are drawn from 0..hi")
    ap.add_argument("--operations", default="+,-", help="comma-separated, from + and -")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--eval-every", type=int, default=250)
    args = ap.parse_args(argv)
    operations = args.operations.split(",")
    if not set(operations) <= {"+", "-"} or args.max_ops < 1 or args.hi < 1:
        ap.error("--operations takes + and/or -; --max-ops and --hi must be >= 1")

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = random.Random(0)

    def draw() -> dict:
        k = rng.randint(1, args.max_ops)
        xs = [rng.randint(0, args.hi) for _ in range(k + 1)]
        ops = [rng.choice(operations) for _ in range(k)]
        text, value = str(xs[0]), xs[0]
        for op, x in zip(ops, xs[1:]):
            text += f" {op} {x}"
            value = value + x if op == "+" else value - x
        return {"id": "probe", "text": text, "target": str(value)}

    mc = dataclasses.replace(ModelConfig(), hidden_dim=args.hidden, num_layers=args.layers, num_heads=4,
                             dropout=0.0, max_seq_len=64, answer_order="reversed")
    model = TokenOnlyModel(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.99))
    val = [draw() for _ in range(500)]
    start = time.time()
    for step in range(1, args.steps + 1):
        batch = model.collate([draw() for _ in range(args.batch_size)])
        for group in opt.param_groups:
            group["lr"] = args.lr * min(1.0, step / 200)
        _, loss = model(batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.eval_every == 0:
            preds = model.predict([r["text"] for r in val])
            exact = sum(p == r["target"] for p, r in zip(preds, val)) / len(val)
            units = sum(p[-1:] == r["target"][-1:] for p, r in zip(preds, val)) / len(val)
            print(f"step {step} examples {step * args.batch_size} loss {loss.item():.3f} "
                  f"exact {exact:.3f} units_digit {units:.3f} {time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
