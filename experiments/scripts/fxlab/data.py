"""Experiment data: arithmetic generation (SPEC section 4) and JSONL read/write.

An arithmetic record (one JSON object per line, keys sorted):

    {"id": "train-000007", "split": "train", "task": "arithmetic", "text": "12 + 7 * 3", "target": "33",
     "n_ops": 2, "operands": [12, 7, 3], "ops": ["+", "*"], "roles": ["+", "+", "*"]}

`roles[i]` is the structure label of operand i, used only to *train* the hybrid model's role head:
"+" starts a new product term with sign +, "-" starts a new term with sign -, "*" multiplies into the
current term. The model never receives it at inference (`predict` takes raw text only).

Generation is deterministic: each split draws from its own `random.Random(f"{seed}/{split}")`, val and the
test splits are drawn first, and train excludes every text they contain (every text is unique across all
files). The same seed gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path

from fxlab import UserError
from fxlab.config import Config

SPLITS = {
    "arithmetic": ("train", "val", "test_id", "test_ood_magnitude", "test_ood_length"),
    "units": ("train", "val", "test_id", "test_ood_magnitude", "test_ood_types"),
}
TEST_SPLITS = {task: tuple(s for s in splits if s.startswith("test_")) for task, splits in SPLITS.items()}
RECORD_KEYS = ("id", "text", "target")  # what every file must have; eval needs no more
MAX_DRAWS = 1000  # attempts to draw one unseen expression before declaring the space exhausted
MANIFEST = "manifest.json"


def evaluate(operands: list[int], ops: list[str]) -> int:
    """Exact value with standard precedence: `*` first, then `+`/`-` left to right.

    >>> evaluate([12, 7, 3], ["+", "*"])
    33
    """
    total, term = 0, operands[0]
    sign = 1
    for op, x in zip(ops, operands[1:]):
        if op == "*":
            term *= x
        else:
            total += sign * term
            sign, term = (1 if op == "+" else -1), x
    return total + sign * term


def roles_for(ops: list[str]) -> list[str]:
    """Per-operand role: the first operand starts a "+" term; operand i+1 takes the operator before it.

    >>> roles_for(["-", "*", "+"])
    ['+', '-', '*', '+']
    """
    return ["+"] + list(ops)


def arithmetic_record(split: str, index: int, operands: list[int], ops: list[str]) -> dict:
    parts = [str(operands[0])]
    for op, x in zip(ops, operands[1:]):
        parts += [op, str(x)]
    return {
        "id": f"{split}-{index:06d}", "split": split, "task": "arithmetic", "text": " ".join(parts),
        "target": str(evaluate(operands, ops)), "n_ops": len(ops), "operands": list(operands),
        "ops": list(ops), "roles": roles_for(ops),
    }


def _draw_split(split: str, size: int, seed: int, value_range, ops_range, operations, seen: set) -> list[dict]:
    """`size` expressions whose texts are not in `seen` (and adds them to it)."""
    rng = random.Random(f"{seed}/{split}")
    lo, hi = value_range
    records = []
    for i in range(size):
        n_ops = rng.randint(*ops_range)
        for _ in range(MAX_DRAWS):
            operands = [rng.randint(lo, hi) for _ in range(n_ops + 1)]
            ops = [rng.choice(operations) for _ in range(n_ops)]
            record = arithmetic_record(split, i, operands, ops)
            if record["text"] not in seen:
                break
        else:
            raise UserError(f"cannot draw {size} distinct '{split}' expressions: the {n_ops}-operation "
                            f"expressions over [{lo}, {hi}] are nearly all used; lower the data sizes "
                            "or widen data.id_range")
        seen.add(record["text"])
        records.append(record)
    return records


def generate_arithmetic(cfg: Config) -> dict[str, list[dict]]:
    d = cfg.data
    ops = list(d.operations)
    plan = [  # val and tests first, so train can exclude their texts
        ("val", d.val_size, d.id_range, d.id_ops),
        ("test_id", d.test_size, d.id_range, d.id_ops),
        ("test_ood_magnitude", d.test_size, d.ood_magnitude_range, d.id_ops),
        ("test_ood_length", d.test_size, d.id_range, d.ood_ops),
        ("train", d.train_size, d.id_range, d.id_ops),
    ]
    seen: set[str] = set()
    out = {split: _draw_split(split, size, cfg.seed, vr, opr, ops, seen) for split, size, vr, opr in plan}
    return {split: out[split] for split in SPLITS["arithmetic"]}


def generate(cfg: Config) -> dict[str, list[dict]]:
    """All splits of the config's task: {split name: records}."""
    from fxlab.mathds_data import generate_mathds  # neither imports anything from this module
    from fxlab.units_data import generate_units

    generators = {"arithmetic": generate_arithmetic, "units": generate_units, "mathds": generate_mathds}
    if cfg.task not in generators:
        raise UserError(f"unknown task '{cfg.task}'; known: {', '.join(generators)}")
    return generators[cfg.task](cfg)


def make_dir(path: Path) -> Path:
    """mkdir -p; a file in the way (e.g. paths.results_dir names a file) is a UserError, not a traceback."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), path)
        raise UserError(f"cannot create directory {path}: {blocker} is a file; move it or choose another path") from None
    return path


def current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it; put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory + os.replace, so readers never see half a file.

    The file gets the mode an ordinary `open(path, "w")` would give (0o666 & ~umask), not mkstemp's 0o600,
    so colleagues can read results on a shared machine. An interrupted write leaves at most a
    `.<name>.*.tmp` file, which `remove_stray_tmp` deletes.
    """
    path = Path(path)
    make_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stray_tmp(directory: Path) -> list[Path]:
    """Delete the temp files of writes that a SIGKILL interrupted (`.<name>.<random>.tmp`)."""
    directory = Path(directory)
    stray = sorted(directory.glob(".*.tmp")) if directory.is_dir() else []
    for p in stray:
        p.unlink(missing_ok=True)
    return stray


def jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_jsonl(path: Path, records: list[dict]) -> None:
    atomic_write_bytes(path, jsonl_bytes(records))


def read_jsonl(path: Path, required: tuple[str, ...] = RECORD_KEYS) -> list[dict]:
    """Records of a JSONL file. A corrupt line or a missing key raises UserError naming `file:line`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    records = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 may sit in a text
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); JSONL files are UTF-8") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        missing = [k for k in required if k not in record]
        if missing:
            raise UserError(f"{path}:{lineno}: record is missing key(s) {', '.join(missing)}")
        for key in ("text", "target"):
            if key in required and not isinstance(record[key], str):
                raise UserError(f"{path}:{lineno}: '{key}' must be a string")
        records.append(record)
    return records


def split_path(cfg: Config, split: str) -> Path:
    return cfg.data_path / f"{split}.jsonl"


def load_split(cfg: Config, split: str, required: tuple[str, ...] = RECORD_KEYS) -> list[dict]:
    """A generated split; a missing data dir or file says which command creates it."""
    path = split_path(cfg, split)
    if not path.is_file():
        what = "data dir" if not cfg.data_path.is_dir() else "data file"
        where = cfg.data_path if what == "data dir" else path
        raise UserError(f"{what} {where} not found; run generate_data.py --config {cfg.source} first")
    records = read_jsonl(path, required)
    if not records:  # checked here, before any caller deletes checkpoints or reports a 0.0% accuracy
        raise UserError(f"data file {path} has no records; regenerate it with "
                        f"generate_data.py --config {cfg.source}")
    return records


def write_dataset(cfg: Config, splits: dict[str, list[dict]], out_dir: Path) -> dict:
    """Write `<split>.jsonl` files and a deterministic manifest.json (sizes + sha256); returns the manifest."""
    files = {}
    for split, records in splits.items():
        blob = jsonl_bytes(records)
        atomic_write_bytes(out_dir / f"{split}.jsonl", blob)
        files[f"{split}.jsonl"] = {"n": len(records), "sha256": hashlib.sha256(blob).hexdigest()}
    manifest = {"task": cfg.task, "seed": cfg.seed, "data": cfg.to_dict()["data"], "files": files}
    atomic_write_bytes(out_dir / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
