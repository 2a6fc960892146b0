"""The `mathds` task: DeepMind mathematics_dataset files -> JSONL splits (docs/design.md §4).

The source is a folder in the official v1.0 layout (`data.source_dir`; the release's
`mathematics_dataset-v1.0/` folder works unchanged):

    train-easy/ train-medium/ train-hard/ interpolate/   <family>__<module>.txt
    extrapolate/                                          <family>__<module>[_big|_longer|_more].txt

The family of each module is `fxlab.config.MATHDS_FAMILY` (arithmetic, comparison, measurement, numbers).

Each file alternates lines: a question, then its answer. `generate_mathds(cfg)` writes

- `train`: the first `data.train_per_module` problems of every train-<difficulty>/<family>__<module>.txt
  (per module AND per difficulty, i.e. per file; null = the whole file), for each of `data.modules`,
  minus the val problems and minus any problem whose text is also in val or a test split;
- `val`: `data.val_size` problems drawn from that pool with `random.Random(f"{seed}/val")`, spread evenly
  over the (module, difficulty) files (largest remainder, in file order), all texts distinct;
- one test split per module of `data.test_modules`, named by the file stem (`arithmetic__mul_big`): the
  first `data.test_per_module` problems (null = all) of interpolate/ or extrapolate/<family>__<m>.txt.
  By default: interpolate for every module of `data.modules`, and extrapolate for each module whose base
  is in `data.modules` (`mul_big` -> `mul`). extrapolate/measurement__conversion.txt has the name of the
  training module; its split is `measurement__conversion_extrapolate` (module `conversion_extrapolate`).

Files are read line by line and only the first N problems are read, so the official release (666,666
problems per module and difficulty) costs no more than N. A record (keys sorted in the file):

    {"id": "train-000007", "split": "train", "task": "mathds", "text": "What is -3 + 12?", "target": "9",
     "n_ops": 1, "module": "add_or_sub", "difficulty": "easy"}

`difficulty` is easy | medium | hard for train and val, interpolate | extrapolate for the test splits.
`n_ops` is a rough length measure computed here from the question (number literals - 1, at least 0);
no model reads it. The same config and seed give byte-identical files; the seed changes which problems
go to val.
"""

from __future__ import annotations

import codecs
import random
import re
from pathlib import Path

from fxlab import UserError
from fxlab.config import MATHDS_EXTRAPOLATE, MATHDS_FAMILY, Config, missing_file_message, resolve_path
from fxlab.data import MAX_LINE_BYTES, text_lines

DIFFICULTIES = ("easy", "medium", "hard")
PREFIX = "arithmetic__"  # the arithmetic family's file prefix
FAMILIES = ("arithmetic", "comparison", "measurement", "numbers")
FORMAT = "mathematics_dataset two-line"  # names the format in messages of the line reader
LAYOUT = ("expected the mathematics_dataset v1.0 layout: train-easy/ train-medium/ train-hard/ "
          "interpolate/ extrapolate/ holding <family>__<module>.txt files (question and answer lines)")
_LITERAL = re.compile(r"\d+(?:\.\d+)?")  # unsigned number literals, for n_ops only
_EXTRAPOLATE_NAME = re.compile(r"_(?:big|longer|more|extrapolate)(?:_|$)")
_OWN_SPLIT = re.compile(r"_(?:mag_up|mag_down|close)$")
_FAMILY_PREFIX = re.compile(rf"(?:{'|'.join(FAMILIES)})__")
# A test module whose file stem is not its name: the file's module name (in extrapolate/).
_FILE_MODULE = {"conversion_extrapolate": "conversion"}


def family_of(module: str) -> str:
    """The family of a training or test module: "sort_more" -> "comparison"."""
    return MATHDS_FAMILY[MATHDS_EXTRAPOLATE.get(module, module)]


def split_name(module: str) -> str:
    """The test split of a module: "<family>__<module>" ("measurement__conversion_extrapolate")."""
    return f"{family_of(module)}__{module}"


def module_of(split: str) -> str:
    """A split or file stem without its family prefix: "comparison__sort_more" -> "sort_more"."""
    m = _FAMILY_PREFIX.search(split)
    return split[m.end():] if m else split


def count_ops(question: str) -> int:
    """Number literals in the question minus one (never below 0): a rough expression length.

    >>> count_ops("What is (4 - 1) + -9?"), count_ops("Total of 0.03 and 0.08."), count_ops("Root of 9")
    (2, 1, 0)
    """
    return max(len(_LITERAL.findall(question)) - 1, 0)


def mathds_test_modules(cfg: Config) -> list[str]:
    """The test modules of a config: data.test_modules, or by default the interpolate files of
    data.modules, then the extrapolate files whose base module is in data.modules."""
    d = cfg.data
    if d.test_modules is not None:
        return list(d.test_modules)
    return list(d.modules) + [m for m, base in MATHDS_EXTRAPOLATE.items() if base in d.modules]


def mathds_test_splits(cfg: Config) -> list[str]:
    """Names of the test splits generate_mathds writes (file stems), in table order.

    With `data.modules: [mul]` and no `data.test_modules`: ["arithmetic__mul", "arithmetic__mul_big"].
    """
    return [split_name(m) for m in mathds_test_modules(cfg)]


def section_of(split: str) -> str:
    """"interpolate" | "extrapolate" for a mathds split or file stem ("<family>__<module>..."), from the
    dataset's naming: extrapolation modules end in _big, _longer or _more (and the conversion split in
    _extrapolate), also in a renamed copy such as arithmetic__mul_big_full. "other" for a name without a
    family prefix.

    >>> section_of("arithmetic__mul"), section_of("arithmetic__mixed_longer_v2"), section_of("probe")
    ('interpolate', 'extrapolate', 'other')
    >>> section_of("comparison__sort_more"), section_of("measurement__conversion_extrapolate")
    ('extrapolate', 'extrapolate')

    Our own stress splits of the comparison modules (make_values_splits.py: _mag_up, _mag_down, _close)
    are neither: "other".

    >>> section_of("comparison__pair_mag_up"), section_of("comparison__sort_close")
    ('other', 'other')
    """
    if not _FAMILY_PREFIX.search(split) or _OWN_SPLIT.search(split):
        return "other"
    return "extrapolate" if _EXTRAPOLATE_NAME.search(module_of(split)) else "interpolate"


def read_problems(path: Path, limit: int | None = None):
    """Yield (line number, question, answer) from a two-line file, stopping after `limit` problems.

    Streams: only the lines it yields are read (fxlab.data.text_lines: a BOM is dropped; a binary file,
    an over-long line or bytes that are not UTF-8 are a UserError). A missing answer line or an empty
    line raises UserError.
    """
    if limit is not None and limit <= 0:
        return
    lines = text_lines(Path(path), FORMAT)
    count = 0
    for lineno, question in lines:
        answer = next(lines, (lineno + 1, ""))[1]
        question, answer = question.removesuffix("\r"), answer.removesuffix("\r")  # CRLF files
        if not question.strip() or not answer.strip():
            bad = lineno if not question.strip() else lineno + 1
            raise UserError(f"{path}:{bad}: empty or missing line; the two-line format alternates a "
                            "question line and an answer line, with no blank lines")
        yield lineno, question, answer
        count += 1
        if limit is not None and count >= limit:
            return


def _file(source: Path, folder: str, module: str) -> Path:
    path = source / folder / f"{family_of(module)}__{_FILE_MODULE.get(module, module)}.txt"
    if not path.is_file():
        raise UserError(f"data.source_dir {source}: missing {folder}/{path.name}; {LAYOUT}")
    return path


def _record(split: str, index: int, question: str, answer: str, module: str, difficulty: str | None) -> dict:
    return {"id": f"{split}-{index:06d}", "split": split, "task": "mathds", "text": question, "target": answer,
            "n_ops": count_ops(question), "module": module, "difficulty": difficulty}


def _quotas(total: int, n_files: int) -> list[int]:
    """`total` spread over `n_files` as evenly as possible, the remainder to the first files."""
    return [total // n_files + (1 if i < total % n_files else 0) for i in range(n_files)]


def generate_mathds(cfg: Config) -> dict[str, list[dict]]:
    """{split: records} for the mathds task: train, val, then one test split per test module."""
    d = cfg.data
    source = resolve_path(d.source_dir)
    if not source.is_dir():
        raise UserError(f"data.source_dir {source} is not a folder; {LAYOUT}")
    # Check every file before reading any, so a bad folder fails at once.
    train_files = [(m, diff, _file(source, f"train-{diff}", m)) for m in d.modules for diff in DIFFICULTIES]
    test_files = [(m, section_of(split_name(m)), _file(source, section_of(split_name(m)), m))
                  for m in mathds_test_modules(cfg)]

    tests: dict[str, list[dict]] = {}
    for module, section, path in test_files:
        split = split_name(module)
        tests[split] = [_record(split, i, q, a, module, section)
                        for i, (_, q, a) in enumerate(read_problems(path, d.test_per_module))]
        if not tests[split]:
            raise UserError(f"{path} holds no problems; {LAYOUT}")
    test_texts = {r["text"] for records in tests.values() for r in records}

    pools = []
    for module, diff, path in train_files:
        pool = [(q, a) for _, q, a in read_problems(path, d.train_per_module)]
        if not pool:
            raise UserError(f"{path} holds no problems; {LAYOUT}")
        pools.append((module, diff, path, pool))

    # val: per file, a seeded sample of texts not yet used by val or a test split.
    rng = random.Random(f"{cfg.seed}/val")
    val_pairs, val_texts = [], set()
    for (module, diff, path, pool), k in zip(pools, _quotas(d.val_size, len(pools))):
        first = {}
        for q, a in pool:
            if q not in val_texts and q not in test_texts:
                first.setdefault(q, a)
        candidates = list(first.items())
        if k >= len(candidates):
            raise UserError(f"data.val_size {d.val_size} takes {k} problems from {path}, which leaves no "
                            f"training problem there (it offers {len(candidates)}); lower data.val_size or "
                            "raise data.train_per_module")
        for i in sorted(rng.sample(range(len(candidates)), k)):
            q, a = candidates[i]
            val_pairs.append((q, a, module, diff))
            val_texts.add(q)

    held_out = val_texts | test_texts
    train = []
    for module, diff, _, pool in pools:
        for q, a in pool:
            if q not in held_out:
                train.append(_record("train", len(train), q, a, module, diff))
    val = [_record("val", i, q, a, module, diff) for i, (q, a, module, diff) in enumerate(val_pairs)]
    return {"train": train, "val": val, **tests}


def load_problem_file(path: Path) -> list[dict]:
    """Records of a file in the official two-line format, for `eval.py --data`; split = the file stem.

    `module` is the stem without its family prefix; `difficulty` is the folder's section (easy, medium,
    hard, interpolate, extrapolate), or None when the file is not in such a folder. A file of extrapolate/
    whose name is a training module's (measurement__conversion) gets the split name of its test split
    (measurement__conversion_extrapolate), so that it does not share a row with the interpolate file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(missing_file_message(path, "data file"))
    stem, folder = path.stem, path.parent.name
    if folder == "extrapolate" and section_of(stem) == "interpolate":
        stem += "_extrapolate"
    module = module_of(stem)
    difficulty = folder.removeprefix("train-") if folder.removeprefix("train-") in DIFFICULTIES \
        or folder in ("interpolate", "extrapolate") else None
    return [_record(stem, i, q, a, module, difficulty) for i, (_, q, a) in enumerate(read_problems(path))]


def is_jsonl(path: Path) -> bool:
    """True if the file's first non-blank line starts with "{" (a JSON record); a question never does.

    Reads bounded chunks, skips a UTF-8 BOM and looks at bytes, so a line that is not UTF-8 is judged too.
    A first line longer than MAX_LINE_BYTES says nothing: then the name decides (".jsonl": JSONL). The
    reader of the chosen format reports what is wrong with the file.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.readline(MAX_LINE_BYTES + 1).removeprefix(codecs.BOM_UTF8)
        while head and not head.strip():
            head = f.readline(MAX_LINE_BYTES + 1)
    if len(head.rstrip(b"\n")) > MAX_LINE_BYTES:
        return path.suffix == ".jsonl"
    return not head or head.lstrip().startswith(b"{")  # empty: the JSONL reader reports it
