"""Throughput of the FluxEM core: batch encode, decode_int and detect_spans. Prints a Markdown table.

    python benchmarks/bench_core.py            # N = 1e6 numbers, ~2 MB of prose
    python benchmarks/bench_core.py --quick    # smaller sizes, for a smoke run

Each row reports the best of `--repeats` timed runs after one warm-up run (the first touch of fresh
memory in a VM costs more than the work itself). Targets (issue 2): encode >= 5M numbers/s for int64
inputs with every channel filled; detect_spans >= 1 MB/s on realistic prose.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time

import numpy as np

import fluxem

PROSE = (
    "The 2023 survey of 1,500 households found that the median family spent $2,350 on energy, "
    "up 12.5% from 2022. Average commute distance was 14.2 km (8.8 mi), and 3 in 10 drivers reported "
    "speeds above 60 mph on the highway. In the lab, we heated 250 mL of water from 20 °C to 100 °C in "
    "4 min using a 1.2 kW kettle; the pressure stayed at 101.3 kPa. Revenue reached $2.1bn in Q3, "
    "while the company shipped 0.5k units per day. Avogadro's number is 6.02e23 and Planck's constant "
    "is 6.63×10^-34 J*s. The recipe needs 2 1/2 cups of flour, 350 g of sugar and 3 eggs. "
    "The marathon runner finished 42.195 km in 2 h 5 min, averaging 20.3 km/h. "
    "Rainfall totalled 1,204 mm over 365 days, with a peak of 87 mm on 14 July. "
    "Nothing here is a number: the committee met to discuss policy, staffing and the budget timeline. "
)


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_encode(n: int, repeats: int) -> tuple[str, str]:
    values = np.random.default_rng(0).integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
    enc = fluxem.NumberEncoder()
    seconds = best_time(lambda: enc.encode(values), repeats)
    return f"encode, int64, all channels (N = {n:,})", f"{n / seconds / 1e6:.2f} M numbers/s"


def bench_decode_int(n: int, repeats: int) -> tuple[str, str]:
    rng = random.Random(0)
    ints = [rng.randrange(-(10**60), 10**60) for _ in range(n)]
    enc = fluxem.NumberEncoder()
    embeddings = enc.encode(np.array(ints, dtype=object))
    seconds = best_time(lambda: enc.decode_int(embeddings), repeats)
    if enc.decode_int(embeddings[:1000]) != ints[:1000]:
        raise SystemExit("decode_int returned a wrong integer")
    return f"decode_int, 60-digit ints (N = {n:,})", f"{n / seconds / 1e6:.2f} M numbers/s"


def bench_spans(megabytes: float, repeats: int) -> tuple[str, str]:
    text = PROSE * max(1, int(megabytes * 1e6 / len(PROSE.encode())))
    size = len(text.encode())
    seconds = best_time(lambda: fluxem.detect_spans(text), repeats)
    return f"detect_spans, prose ({size / 1e6:.1f} MB)", f"{size / seconds / 1e6:.2f} MB/s"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n_encode, n_decode, mb = (20_000, 5_000, 0.1) if args.quick else (1_000_000, 200_000, 2.0)
    rows = [bench_encode(n_encode, args.repeats), bench_decode_int(n_decode, args.repeats),
            bench_spans(mb, args.repeats)]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, fluxem {fluxem.__version__}")
    print("| benchmark | throughput |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
