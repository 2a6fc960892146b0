"""Speed of the FluxEM core: scalar and span encode, batch encode (fresh and into a reused buffer),
decode_int and detect_spans. Prints a Markdown table and writes a JSON result file per run.

    OMP_NUM_THREADS=1 python benchmarks/bench_core.py             # N = 1e6 numbers, ~2 MB of prose
    OMP_NUM_THREADS=1 python benchmarks/bench_core.py --quick     # smaller sizes, for a smoke run

Every figure is the median of `--repeats` (>= 3) timed runs after one warm-up run, with the range
(min-max) beside it: the first touch of fresh memory in a VM costs more than the work itself, and a
shared machine is noisy. The machine's load average is recorded before and after, so a figure taken on
a busy machine can be recognised as such. Results go to benchmarks/results/<YYYYmmdd-HHMMSS>.json, so
figures can be compared over time. Targets (issues 2 and 10): scalar encode <= 10 us; span_vectors of
4 number spans <= 30 us; encode into a reused buffer >= 5M int64 numbers/s (fresh allocation beside it);
detect_spans >= 1 MB/s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np

import fluxem

RESULTS_DIR = Path(__file__).resolve().parent / "results"

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
SPAN_TEXT = "What is -2 + 12.5 * (-3 - 40)?"  # 4 number spans, two decimals among them


def timed(fn, repeats: int, inner: int = 1) -> list[float]:
    """Seconds per call of fn, one figure per repeat (each the mean of `inner` calls), after a warm-up."""
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - start) / inner)
    return out


def summarize(name: str, seconds: list[float], scale: float, unit: str, target: str = "-") -> dict:
    """Median and range of per-run figures; scale turns seconds into the unit (rates invert)."""
    if unit.endswith("/s"):
        values = [scale / s for s in seconds]
    else:
        values = [s * scale for s in seconds]
    return {"benchmark": name, "unit": unit, "median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values, "target": target}


def bench_scalar(repeats: int) -> list[dict]:
    """Repeated value (the row cache hits, as for the numbers a text repeats) and distinct values (misses)."""
    enc = fluxem.NumberEncoder()
    distinct = iter(range(10**8, 10**9, 7))  # never repeats within a run: every call misses the cache
    return [summarize("scalar encode(123456789), repeated value", timed(lambda: enc.encode(123456789), repeats, 20_000),
                      1e6, "us", "<= 10 us"),
            summarize("scalar encode, distinct 9-digit ints (cache misses)",
                      timed(lambda: enc.encode(next(distinct)), repeats, 5_000), 1e6, "us", "<= 10 us")]


def bench_span_vectors(repeats: int) -> list[dict]:
    try:
        from fluxem.nn import span_vectors
    except ImportError:  # the torch bridge is optional
        return []
    spans = fluxem.detect_spans(SPAN_TEXT)
    if [s.kind for s in spans] != ["number"] * 4:
        raise SystemExit(f"expected 4 number spans in {SPAN_TEXT!r}, got {spans}")
    # distinct texts: 2,000 generated questions with fresh numbers, so the row cache mostly misses
    rng = random.Random(0)
    texts = [f"What is -{rng.randrange(10**6)} + {rng.randrange(10**4)}.{rng.randrange(100):02d} * "
             f"(-{rng.randrange(10**5)} - {rng.randrange(10**7)})?" for _ in range(2_000)]
    span_lists = [fluxem.detect_spans(t) for t in texts]
    cycle = iter(span_lists * 1000)
    return [summarize("span_vectors, 4 number spans, same text", timed(lambda: span_vectors(spans), repeats, 5_000),
                      1e6, "us", "<= 30 us"),
            summarize("span_vectors, 4 number spans, 2,000 distinct texts (cache misses)",
                      timed(lambda: span_vectors(next(cycle)), repeats, 2_000), 1e6, "us", "<= 30 us")]


def bench_encode(n: int, repeats: int) -> list[dict]:
    values = np.random.default_rng(0).integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
    enc = fluxem.NumberEncoder()
    buf_f = np.empty((n, 128), order="F")  # the layout encode() returns: every channel contiguous
    buf_c = np.empty((n, 128))  # row-major: staged through a scratch buffer and a transposing copy
    rows = [
        summarize(f"encode, int64, fresh output (N = {n:,})", timed(lambda: enc.encode(values), repeats),
                  n / 1e6, "M numbers/s"),
        summarize(f"encode, int64, out= reused, Fortran order (N = {n:,})",
                  timed(lambda: enc.encode(values, out=buf_f), repeats), n / 1e6, "M numbers/s", ">= 5 M/s"),
        summarize(f"encode, int64, out= reused, C order (N = {n:,})",
                  timed(lambda: enc.encode(values, out=buf_c), repeats), n / 1e6, "M numbers/s"),
    ]
    if not np.array_equal(buf_c, buf_f) or not np.array_equal(buf_f[:1000], enc.encode(values[:1000])):
        raise SystemExit("encode(out=) disagrees with encode()")
    return rows


def bench_decode_int(n: int, repeats: int) -> dict:
    rng = random.Random(0)
    ints = [rng.randrange(-(10**60), 10**60) for _ in range(n)]
    enc = fluxem.NumberEncoder()
    embeddings = enc.encode(np.array(ints, dtype=object))
    if enc.decode_int(embeddings[:1000]) != ints[:1000]:
        raise SystemExit("decode_int returned a wrong integer")
    return summarize(f"decode_int, 60-digit ints (N = {n:,})", timed(lambda: enc.decode_int(embeddings), repeats),
                     n / 1e6, "M numbers/s")


def bench_spans(megabytes: float, repeats: int) -> dict:
    text = PROSE * max(1, int(megabytes * 1e6 / len(PROSE.encode())))
    size = len(text.encode())
    return summarize(f"detect_spans, prose ({size / 1e6:.1f} MB)", timed(lambda: fluxem.detect_spans(text), repeats),
                     size / 1e6, "MB/s", ">= 1 MB/s")


def machine() -> dict:
    return {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "fluxem": fluxem.__version__,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (>= 3)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON result goes")
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be >= 3: a figure is a median with its range")
    n_encode, n_decode, mb = (20_000, 5_000, 0.1) if args.quick else (1_000_000, 200_000, 2.0)
    load_before = os.getloadavg()
    rows = [*bench_scalar(args.repeats), *bench_span_vectors(args.repeats), *bench_encode(n_encode, args.repeats),
            bench_decode_int(n_decode, args.repeats), bench_spans(mb, args.repeats)]
    rows = [r for r in rows if r is not None]
    load_after = os.getloadavg()
    info = machine()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"machine: {info['processor']}, {info['cores']} cores, Python {info['python']}, NumPy {info['numpy']}, "
          f"fluxem {info['fluxem']}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"| benchmark | median | range ({args.repeats} runs) | target |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['median']:.3g} {r['unit']} | {r['min']:.3g}–{r['max']:.3g} | {r['target']} |")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"bench_core-{stamp}.json"
    record = {"time": stamp, "argv": argv if argv is not None else os.sys.argv[1:], "quick": args.quick,
              "repeats": args.repeats, "machine": info, "load_average_before": load_before,
              "load_average_after": load_after, "results": rows}
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
