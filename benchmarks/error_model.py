"""Measure the error of FluxEM's float channels against exact rational arithmetic. Prints a Markdown table.

    python benchmarks/error_model.py            # 20,000 random cases per row
    python benchmarks/error_model.py --n 2000   # quicker

Every reference is computed with `fractions.Fraction` from the exact float inputs, so the table shows
what the embedding adds on top of the inputs' own representation. The README's error model is this
table; tests/test_number.py asserts the looser bounds it quotes.
"""

from __future__ import annotations

import argparse
import math
import random
from fractions import Fraction

import fluxem


def rel_err(got: float, exact: Fraction) -> float:
    if exact == 0:
        return abs(got)
    return float(abs(Fraction(got) - exact) / abs(exact))


def loguniform(rng: random.Random, lo: float, hi: float) -> float:
    return rng.choice([-1, 1]) * 10 ** rng.uniform(math.log10(lo), math.log10(hi))


def measure(n: int, seed: int) -> list[tuple[str, float, float]]:
    rng = random.Random(seed)
    enc, q = fluxem.NumberEncoder(), fluxem.QuantityEncoder()
    rows = {"decode(encode(x))": [], "add (linear channel)": [], "mul (log channel)": [],
            "div, non-integer (linear channel)": [], "QuantityEncoder.convert": [], "QuantityEncoder.mul": []}
    units = ["km", "mi", "ft", "in", "lb", "oz", "h", "min", "mph", "km/h", "kPa", "psi", "kcal", "kWh"]
    for _ in range(n):
        x, y = loguniform(rng, 1e-100, 1e100), loguniform(rng, 1e-100, 1e100)
        rows["decode(encode(x))"].append(rel_err(enc.decode(enc.encode(x)), Fraction(x)))
        rows["add (linear channel)"].append(rel_err(enc.decode(enc.add(enc.encode(x), enc.encode(y))), Fraction(x) + Fraction(y)))
        rows["mul (log channel)"].append(rel_err(enc.decode(enc.mul(enc.encode(x), enc.encode(y))), Fraction(x) * Fraction(y)))
        rows["div, non-integer (linear channel)"].append(rel_err(enc.decode(enc.div(enc.encode(x), enc.encode(y))), Fraction(x) / Fraction(y)))
        u1, u2 = rng.sample(units, 2)
        a, b = fluxem.parse_unit(u1), fluxem.parse_unit(u2)
        v = abs(x)
        if a.dimensions == b.dimensions:
            exact = Fraction(v) * Fraction(a.factor) / Fraction(b.factor)
            rows["QuantityEncoder.convert"].append(rel_err(q.convert(q.encode(v, u1), u2), exact))
        got = q.si_value(q.mul(q.encode(v, u1), q.encode(abs(y), u2)))
        rows["QuantityEncoder.mul"].append(rel_err(got, Fraction(v) * Fraction(a.factor) * Fraction(abs(y)) * Fraction(b.factor)))
    table = []
    for name, errs in rows.items():
        errs.sort()
        table.append((name, errs[len(errs) // 2], errs[-1]))
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{args.n:,} cases per row, magnitudes log-uniform in [1e-100, 1e100], seed {args.seed}")
    print("| operation | median relative error | max relative error |\n|---|---|---|")
    for name, median, worst in measure(args.n, args.seed):
        print(f"| {name} | {median:.2e} | {worst:.2e} |")
    print("| +, -, * on integers (exact channel) | 0 (exact) | 0 (exact) up to 10**75 |")
    print("| +, -, *, / on exact rationals (Fraction, Decimal) | 0 (exact) | 0 (exact) for n/d up to 10**38 |")


if __name__ == "__main__":
    main()
