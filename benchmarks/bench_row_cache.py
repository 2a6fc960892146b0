"""How the size of the scalar row cache (fluxem.number._ROW_CACHE_SIZE) affects tokenizing real text.

    OMP_NUM_THREADS=1 python benchmarks/bench_row_cache.py experiments/data/mathds_full/train.jsonl

Detects the spans of the first `--texts` records' "text" once, then times `span_vectors` over all of them
with an empty row cache of each size (`--sizes`), rounds interleaved so that a drift of the machine hits
every size alike. Prints each size's median time per text, range and hit rate, and writes
benchmarks/results/bench_row_cache-<date>-<time>.json. bench_core.py's `span_vectors` miss row is the
worst case (every number new); this is the case the cache is for (text repeats its numbers).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import statistics
import time
from pathlib import Path

import fluxem
from fluxem import number
from fluxem.nn import span_vectors

from bench_core import RESULTS_DIR, machine


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a JSONL file whose records have a 'text' field")
    parser.add_argument("--texts", type=int, default=60_000, help="records to read from the start")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per size (>= 3)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error("--rounds must be >= 3: a figure is a median with its range")
    if not args.data.is_file():
        parser.error(f"{args.data} is not a file; generate it first (e.g. generate_data.py --config "
                     "experiments/configs/mathds_full.yaml)")
    texts = []
    with args.data.open(encoding="utf-8") as f:
        for lineno, line in zip(range(1, args.texts + 1), f):
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                raise SystemExit(f"{args.data}:{lineno}: not a JSON object with a 'text' field") from None
    if not texts:
        raise SystemExit(f"{args.data} holds no records")
    span_lists = [fluxem.detect_spans(t) for t in texts]
    raw, original = number._cached_row.__wrapped__, number._cached_row
    per_size: dict[int, list[float]] = {size: [] for size in args.sizes}
    hit_rate: dict[int, float] = {}
    load_before = os.getloadavg()
    try:
        for _ in range(args.rounds):
            for size in args.sizes:
                number._cached_row = functools.lru_cache(maxsize=size)(raw)
                start = time.perf_counter()
                for spans in span_lists:
                    span_vectors(spans)
                per_size[size].append((time.perf_counter() - start) / len(span_lists) * 1e6)
                info = number._cached_row.cache_info()
                hit_rate[size] = info.hits / max(1, info.hits + info.misses)
    finally:
        number._cached_row = original
    load_after = os.getloadavg()
    rows = [{"size": size, "unit": "us per text", "median": statistics.median(v), "min": min(v), "max": max(v),
             "runs": v, "hit_rate": hit_rate[size]} for size, v in per_size.items()]
    print(f"{len(texts):,} texts of {args.data}, {sum(map(len, span_lists)) / len(texts):.2f} spans a text; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print("| rows in the cache | span_vectors per text | range | hit rate |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['median']:.2f} us | {r['min']:.2f}-{r['max']:.2f} | {r['hit_rate']:.3f} |")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"bench_row_cache-{stamp}.json"
    path.write_text(json.dumps({"time": stamp, "data": str(args.data), "texts": len(texts), "machine": machine(),
                                "load_average_before": load_before, "load_average_after": load_after,
                                "results": rows}, indent=2) + "\n")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
