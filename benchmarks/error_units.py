"""Measure unit-conversion error, offsets (temperature points) included. Prints a Markdown table.

    python benchmarks/error_units.py            # 20,000 random conversions per row
    python benchmarks/error_units.py --n 2000   # quicker

Inputs are six-digit decimals, as text shows them ("convert 0.391325 in to mm"). The reference is the
exact rational answer (`fluxem.units.convert_exact` on the decimal, checked against an independent
Fraction computation here). Three paths are compared:

- `QuantityEncoder.convert` on the float embedding (SI value in the linear channel, float arithmetic);
- `fluxem.units.convert` (float input, exact factors, one rounding);
- `convert_exact` on the exact decimal (what the data generator and, with `Span.exact`, the hybrid use).

Relative error is |got - exact| / max(|exact|, 1) (the metrics' definition), so a temperature that should
be 0 counts its absolute error. "wrong 6-digit text" counts answers whose `format_value` differs from
`format_value(exact)`, i.e. exact-match misses caused by the arithmetic alone.
"""

from __future__ import annotations

import argparse
import math
import random
from fractions import Fraction

import fluxem
from fluxem.units import convert, convert_exact, parse_unit

TEMPERATURES = ["degC", "degF", "K", "degR"]
LINEAR_UNITS = [["km", "m", "mi", "ft", "in", "mm", "yd"], ["kg", "g", "lb", "oz"], ["h", "min", "s", "d"],
                ["m/s", "km/h", "mph", "ft/s", "kn"]]  # fmt: skip


def six_digits(rng: random.Random, lo: float, hi: float) -> Fraction:
    """A log-uniform magnitude written with six significant digits, as an exact decimal."""
    return Fraction(fluxem.format_value(10 ** rng.uniform(math.log10(lo), math.log10(hi))))


def reference(x: Fraction, src: str, dst: str) -> Fraction:
    """Exact answer from the registry's exact (factor, offset), computed independently of convert_exact."""
    (fa, oa), (fb, ob) = parse_unit(src)._exact, parse_unit(dst)._exact
    return (x * fa + oa - ob) / fb


def draw(rng: random.Random, offset: bool) -> tuple[Fraction, str, str]:
    if offset:
        src, dst = rng.sample(TEMPERATURES, 2)
        while True:  # a point above absolute zero; near the scale zeros half the time (0 degC, 32 degF)
            x = six_digits(rng, 1e-2, 1e4) * rng.choice([-1, 1])
            if rng.random() < 0.5:
                x = Fraction(rng.choice([0, 32, 100, 212, -40, 273.15, 37, 98.6])) if rng.random() < 0.3 else x / 100
                x = Fraction(str(float(x)))
            if reference(x, src, "K") > 0:
                return x, src, dst
    group = rng.choice(LINEAR_UNITS)
    src, dst = rng.sample(group, 2)
    return six_digits(rng, 1e-2, 1e3), src, dst


def measure(n: int, seed: int) -> list[tuple[str, float, float, float]]:
    rng = random.Random(seed)
    q = fluxem.QuantityEncoder()
    rows = []
    for offset in (True, False):
        errs = {"QuantityEncoder.convert": [], "units.convert": [], "convert_exact": []}
        wrong = dict.fromkeys(errs, 0)
        for _ in range(n):
            x, src, dst = draw(rng, offset)
            exact = reference(x, src, dst)
            want = fluxem.format_value(exact)
            got = {
                "QuantityEncoder.convert": q.convert(q.encode(float(x), src), dst),
                "units.convert": convert(float(x), src, dst),
                "convert_exact": convert_exact(x, src, dst),
            }
            for name, value in got.items():
                errs[name].append(float(abs(Fraction(value) - exact) / max(abs(exact), 1)))
                wrong[name] += fluxem.format_value(value) != want
        kind = "temperature points (offsets)" if offset else "linear units"
        for name, e in errs.items():
            e.sort()
            rows.append((f"{name}, {kind}", e[len(e) // 2], e[-1], wrong[name] / n))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="random conversions per row")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    print(f"{args.n:,} conversions per row, six-digit decimal inputs, seed {args.seed}")
    print("| conversion | median error | max error | wrong 6-digit text |\n|---|---|---|---|")
    for name, median, worst, wrong in measure(args.n, args.seed):
        print(f"| {name} | {median:.1e} | {worst:.1e} | {100 * wrong:.2f}% |")


if __name__ == "__main__":
    main()
