"""The mathds task's data and eval plumbing: the committed sample, generation (streamed, seeded, disjoint),
bad folders, the two-line --data format, and the per-module table (issue 7, section 4)."""

from __future__ import annotations

import ast
import json
import re
import shlex
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from conftest import script_args

import eval as eval_script
import generate_data
import train_token_only
from fxlab import UserError
from fxlab.config import MATHDS_EXTRAPOLATE, MATHDS_FAMILY, MATHDS_MODULES, REPO_ROOT, config_from_dict, load_config
from fxlab.data import read_jsonl
from fxlab.tasks import generate
from fxlab.tasks.mathds_data import count_ops, is_jsonl, load_problem_file, mathds_test_splits, read_problems, section_of
from fxlab.metrics import format_mathds_table, parse_number, rel_error, summarize, wilson_interval

CONFIGS = REPO_ROOT / "experiments" / "configs"
SMALL, FULL = CONFIGS / "mathds_small.yaml", CONFIGS / "mathds_full.yaml"
SAMPLE = REPO_ROOT / "experiments" / "mathds_sample"
SHARED = REPO_ROOT.parent / "shared" / "mathds"
ALL_TESTS = [f"{MATHDS_FAMILY[MATHDS_EXTRAPOLATE.get(m, m)]}__{m}"
             for m in list(MATHDS_MODULES) + list(MATHDS_EXTRAPOLATE)]
# The file of each test split: its name, but the conversion module's extrapolation file has the
# training module's name.
TEST_FILES = {s: s.removesuffix("_extrapolate") for s in ALL_TESTS}
NEW_FAMILIES = ("comparison", "measurement", "numbers")
RECORD_FIELDS = {"id", "split", "task", "text", "target", "n_ops", "module", "difficulty"}


def mathds_cfg(source, **data):
    return config_from_dict({"task": "mathds", "seed": 0, "paths": {"data_dir": "d", "results_dir": "r"},
                             "data": {"source_dir": str(source), **data}})


def problems(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) % 2 == 1, path
    return list(zip(lines[0:-1:2], lines[1:-1:2]))


def make_layout(root: Path, modules=("mul",), n_train=30, n_test=6, tail: str = "") -> Path:
    """A folder in the official layout with `a * b` problems (answers by Python ints); `tail` is appended
    to every train file after its n_train problems."""
    for folder in ("train-easy", "train-medium", "train-hard", "interpolate", "extrapolate"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    k = 0
    for m in modules:
        for diff in ("easy", "medium", "hard"):
            lines = []
            for i in range(n_train):
                k += 1
                lines += [f"What is {k} * {i + 2}?", str(k * (i + 2))]
            (root / f"train-{diff}" / f"arithmetic__{m}.txt").write_text("\n".join(lines) + "\n" + tail)
        tests = [(m, "interpolate")] + [(e, "extrapolate") for e, base in MATHDS_EXTRAPOLATE.items() if base == m]
        for name, folder in tests:
            lines = []
            for i in range(n_test):
                a = 10**9 + 7 * i if folder == "extrapolate" else 5000 + i
                lines += [f"Calculate {a}*-3.", str(-3 * a)]
            (root / folder / f"arithmetic__{name}.txt").write_text("\n".join(lines) + "\n")
    return root


# --- configs -------------------------------------------------------------------------------------------

def test_configs_load_and_resolve_source_dirs():
    small, full = load_config(SMALL), load_config(FULL)
    assert (small.task, full.task) == ("mathds", "mathds")
    assert small.data.modules == full.data.modules == list(MATHDS_MODULES)  # all 21, the root module too
    assert len(MATHDS_MODULES) == 21 and len(MATHDS_EXTRAPOLATE) == 12
    assert (REPO_ROOT / small.data.source_dir).resolve() == SAMPLE.resolve()
    assert (REPO_ROOT / full.data.source_dir).resolve() == (REPO_ROOT / ".." / "shared" / "mathds").resolve()
    assert mathds_test_splits(small) == mathds_test_splits(full) == ALL_TESTS


@pytest.mark.parametrize("data, key", [
    ({"modules": ["mul", "addition"]}, "data.modules"),
    ({"modules": []}, "data.modules"),
    ({"modules": ["mul", "mul"]}, "data.modules"),
    ({"test_modules": ["mul_huge"]}, "data.test_modules"),
    ({"train_per_module": 0}, "data.train_per_module"),
    ({"test_per_module": -1}, "data.test_per_module"),
    ({"source_dir": " "}, "data.source_dir"),
    ({"train_size": 10}, "data.train_size"),  # an arithmetic key does not apply to mathds
    ({"id_range": [0, 9]}, "data.id_range"),
])
def test_bad_mathds_config_names_the_key(data, key):
    with pytest.raises(UserError, match=re.escape(key)):
        mathds_cfg(data.pop("source_dir", "x"), **data)


def test_mathds_keys_are_rejected_by_other_tasks():
    with pytest.raises(UserError, match="data.source_dir"):
        config_from_dict({"task": "arithmetic", "paths": {"data_dir": "d", "results_dir": "r"},
                          "data": {"source_dir": "x"}})


def test_default_test_modules_follow_data_modules():
    assert mathds_test_splits(mathds_cfg("x", modules=["div", "nearest_integer_root"])) == \
        ["arithmetic__div", "arithmetic__nearest_integer_root", "arithmetic__div_big"]
    assert mathds_test_splits(mathds_cfg("x", test_modules=["mixed_longer"])) == ["arithmetic__mixed_longer"]


# --- the committed sample ------------------------------------------------------------------------------

def test_sample_is_small_and_in_the_official_layout():
    files = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.txt"))
    expected = sorted([f"train-{d}/{MATHDS_FAMILY[m]}__{m}.txt" for d in ("easy", "medium", "hard")
                       for m in MATHDS_MODULES]
                      + [f"interpolate/{MATHDS_FAMILY[m]}__{m}.txt" for m in MATHDS_MODULES]
                      + [f"extrapolate/{TEST_FILES[s]}.txt" for s in ALL_TESTS[len(MATHDS_MODULES):]])
    assert files == expected
    assert sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file()) <= 3 * 1024 * 1024
    # the same head of every file as the arithmetic sample, but 500 training problems of the new families
    for name in files:
        size = 200 if name.startswith(("interpolate", "extrapolate")) else \
            500 if name.split("/")[1].startswith(NEW_FAMILIES) else 1500
        assert len(problems(SAMPLE / name)) == size, name
    assert "Apache" in (SAMPLE / "README.md").read_text()
    cfg = load_config(SMALL)
    for name in files:
        n = len(problems(SAMPLE / name))
        test_file = name.startswith(("interpolate", "extrapolate"))
        need = cfg.data.test_per_module if test_file else cfg.data.train_per_module
        assert n >= need, name  # the small config reads only what the sample holds


@pytest.mark.skipif(not SHARED.is_dir(),
                    reason="../shared/mathds (DeepMind mathematics_dataset files laid beside the "
                           "repository) is absent; see README (mathds data)")
def test_sample_is_the_head_of_the_shared_files():
    for path in SAMPLE.rglob("*.txt"):
        mine = path.read_bytes()
        assert (SHARED / path.relative_to(SAMPLE)).read_bytes().startswith(mine), path


def test_tests_needing_shared_mathds_say_why_they_skip():
    """Where ../shared/mathds is absent, its tests are reported as skipped (addopts -rs prints the reasons)
    with a reason that says what the folder is and where to read about it."""
    import test_spans

    expected = ("../shared/mathds (DeepMind mathematics_dataset files laid beside the repository) is absent; "
                "see README (mathds data)")
    for test in (test_sample_is_the_head_of_the_shared_files,
                 test_spans.test_mathds_questions_give_every_signed_literal_in_order):
        assert [m.kwargs["reason"] for m in test.pytestmark if m.name == "skipif"] == [expected], test.__name__
    line = next(x for x in (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
                if x.startswith("addopts = "))
    assert "-rs" in shlex.split(yaml.safe_load(line.partition(" = ")[2]))  # a TOML basic string reads as YAML


def _exact(literal: str) -> Fraction:
    return Fraction(Decimal(literal))


def _ast_value(node) -> Fraction:
    """Exact value of an expression of number literals with + - * / and parentheses (reference, tests only)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        raise AssertionError("literals are substituted before parsing")
    if isinstance(node, ast.Name):
        return LITERALS[int(node.id[1:])]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _ast_value(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    ops = {ast.Add: Fraction.__add__, ast.Sub: Fraction.__sub__, ast.Mult: Fraction.__mul__,
           ast.Div: Fraction.__truediv__}
    return ops[type(node.op)](_ast_value(node.left), _ast_value(node.right))


LITERALS: list[Fraction] = []
_LEAD = re.compile(r"^(?:What is the value of |What is |Calculate |Evaluate |Work out |Compute )?(.*?)[.?]?$")
_EXPR = re.compile(r"[\d.()+\-*/ ]+")


def reference_answer(question: str) -> Fraction | None:
    """The exact value of a question that is a bare expression after its lead-in; None for worded ones."""
    body = _LEAD.fullmatch(question).group(1)
    if not _EXPR.fullmatch(body):
        return None
    LITERALS.clear()

    def name(m):
        LITERALS.append(_exact(m.group()))
        return f"v{len(LITERALS) - 1}"
    return _ast_value(ast.parse(re.sub(r"\d+(?:\.\d+)?", name, body), mode="eval").body)


def canonical(value: Fraction) -> str:
    """The dataset's answer convention: integer, reduced p/q with the sign on p, or an exact decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


@pytest.fixture(scope="module")
def small_splits():
    return generate(load_config(SMALL))


def test_generated_answers_match_an_exact_reference(small_splits):
    """Pairing and targets survive generation: every bare-expression question's target equals its exact
    value (Fractions); integer/fraction targets are written as the dataset writes them."""
    checked = 0
    for records in small_splits.values():
        for r in records:
            ref = reference_answer(r["text"])
            if ref is None:
                continue
            assert parse_number(r["target"]) == ref, r
            if "." not in r["target"]:
                assert r["target"] == canonical(ref), r
            checked += 1
    assert checked > 3000  # mathds_small: 200 problems per training file, 200 per test file


def test_small_splits_records_and_disjointness(small_splits):
    cfg = load_config(SMALL)
    assert list(small_splits) == ["train", "val"] + ALL_TESTS
    n_files = 3 * len(MATHDS_MODULES)
    assert len(small_splits["val"]) == cfg.data.val_size
    heads = [problems(SAMPLE / f"train-{d}" / f"{MATHDS_FAMILY[m]}__{m}.txt")[:cfg.data.train_per_module]
             for m in MATHDS_MODULES for d in ("easy", "medium", "hard")]
    val_texts = {r["text"] for r in small_splits["val"]}
    assert len(small_splits["train"]) == sum(q not in val_texts for head in heads for q, _ in head)
    for split, records in small_splits.items():
        for i, r in enumerate(records):
            assert set(r) == RECORD_FIELDS and r["task"] == "mathds" and r["split"] == split
            assert r["id"] == f"{split}-{i:06d}"
            assert r["n_ops"] == count_ops(r["text"])
        if split in ALL_TESTS:
            section = section_of(split)
            assert {r["difficulty"] for r in records} == {section}
            assert {r["module"] for r in records} == {split.split("__", 1)[1]}
            assert [(r["text"], r["target"]) for r in records] == \
                problems(SAMPLE / section / f"{TEST_FILES[split]}.txt")[:cfg.data.test_per_module]
    train = {r["text"] for r in small_splits["train"]}
    val = [r["text"] for r in small_splits["val"]]
    assert len(set(val)) == len(val) and not train & set(val)
    for split in ALL_TESTS:
        assert not train & {r["text"] for r in small_splits[split]}, split
    # val spreads evenly over module x difficulty (the largest remainder goes to the first files)
    per_file = {}
    for r in small_splits["val"]:
        per_file[(r["module"], r["difficulty"])] = per_file.get((r["module"], r["difficulty"]), 0) + 1
    q = cfg.data.val_size // n_files
    assert len(per_file) == n_files and set(per_file.values()) <= {q, q + 1}


def test_train_and_val_come_from_the_first_n_problems_of_their_file(small_splits):
    cfg = load_config(SMALL)
    n = cfg.data.train_per_module
    heads = {(m, d): problems(SAMPLE / f"train-{d}" / f"{MATHDS_FAMILY[m]}__{m}.txt")[:n]
             for m in MATHDS_MODULES for d in ("easy", "medium", "hard")}
    for split in ("train", "val"):
        for r in small_splits[split]:
            assert (r["text"], r["target"]) in heads[(r["module"], r["difficulty"])], r
    # train keeps the source order of each file, minus the val problems
    val = {r["text"] for r in small_splits["val"]}
    easy_mul = [(r["text"], r["target"]) for r in small_splits["train"]
                if (r["module"], r["difficulty"]) == ("mul", "easy")]
    assert easy_mul == [p for p in heads[("mul", "easy")] if p[0] not in val]


def test_n_ops_counts_literals():
    cases = {"What is 41595 - 0?": 1, "Evaluate -1 + -1 - -4 - -3.": 3, "Total of 0.03 and 0.08.": 1,
             "What is ((-70)/(-490))/(4/14*1)?": 4, "What is the square root of 91164887 to the nearest integer?": 0,
             "Calculate 9/(-3)*4/60.": 3}
    assert {q: count_ops(q) for q in cases} == cases


# --- generation through generate_data.py ------------------------------------------------------------

def run_generate(tmp_path, name, *extra):
    out = tmp_path / name
    args = ["--config", str(SMALL), "--set", f"paths.data_dir={out}", "--set", "data.train_per_module=200",
            "--set", "data.val_size=42", "--set", "data.test_per_module=20", *extra]
    assert generate_data.main(args) == 0
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_generation_is_deterministic_and_the_seed_moves_val(tmp_path):
    a, b, c = run_generate(tmp_path, "a"), run_generate(tmp_path, "b"), run_generate(tmp_path, "c", "--seed", "1")
    assert a == b
    assert sorted(a) == sorted(["manifest.json", "train.jsonl", "val.jsonl"] + [f"{s}.jsonl" for s in ALL_TESTS])
    assert a["val.jsonl"] != c["val.jsonl"] and a["train.jsonl"] != c["train.jsonl"]
    assert all(a[f] == c[f] for f in a if f.removesuffix(".jsonl") in ALL_TESTS)  # tests are the files' heads
    manifest = json.loads(a["manifest.json"])
    assert manifest["task"] == "mathds" and set(manifest["data"]) == {
        "source_dir", "modules", "train_per_module", "val_size", "test_modules", "test_per_module"}
    assert manifest["files"]["train.jsonl"]["n"] == 3 * 21 * 200 - 42


def test_reading_streams_only_the_first_n_problems(tmp_path):
    """A file is read only as far as needed: a broken tail after the first N problems is never reached."""
    src = make_layout(tmp_path / "src", n_train=30, tail="this question has no answer line\n")
    splits = generate(mathds_cfg(src, modules=["mul"], train_per_module=30, val_size=6))
    assert len(splits["train"]) == 3 * 30 - 6
    with pytest.raises(UserError, match=r"arithmetic__mul\.txt:62: empty or missing line"):
        generate(mathds_cfg(src, modules=["mul"], train_per_module=None, val_size=6))


def test_null_reads_whole_files_and_fewer_problems_is_fine(tmp_path):
    src = make_layout(tmp_path / "src", n_train=12, n_test=4)
    splits = generate(mathds_cfg(src, modules=["mul"], train_per_module=None, val_size=3))
    assert len(splits["train"]) == 36 - 3 and len(splits["arithmetic__mul_big"]) == 4
    assert [r["target"] for r in splits["arithmetic__mul_big"]] == [str(-3 * (10**9 + 7 * i)) for i in range(4)]


def test_train_drops_texts_that_are_in_a_test_split(tmp_path):
    src = make_layout(tmp_path / "src", n_train=10, n_test=3)
    leaked = (src / "interpolate" / "arithmetic__mul.txt").read_text().split("\n")[:2]
    path = src / "train-hard" / "arithmetic__mul.txt"
    path.write_text(path.read_text() + "\n".join(leaked) + "\n")
    splits = generate(mathds_cfg(src, modules=["mul"], train_per_module=None, val_size=3))
    assert leaked[0] not in {r["text"] for r in splits["train"] + splits["val"]}
    assert len(splits["train"]) == 30 - 3


@pytest.mark.parametrize("breakage, message", [
    (lambda s: s.rename(s.parent / "elsewhere"), "is not a folder"),
    (lambda s: (s / "train-medium" / "arithmetic__mul.txt").unlink(), r"missing train-medium/arithmetic__mul\.txt"),
    (lambda s: (s / "extrapolate" / "arithmetic__mul_big.txt").unlink(), r"missing extrapolate/arithmetic__mul_big"),
    (lambda s: (s / "train-easy" / "arithmetic__mul.txt").write_text(""), "holds no problems"),
    (lambda s: (s / "interpolate" / "arithmetic__mul.txt").write_text("What is 2*3?\n\n"), ":2: empty or missing line"),
])
def test_bad_folder_is_one_line_error_naming_the_layout(tmp_path, breakage, message):
    src = make_layout(tmp_path / "src")
    breakage(src)
    with pytest.raises(UserError, match=message) as info:
        generate(mathds_cfg(src, modules=["mul"], val_size=6))
    assert "\n" not in str(info.value)
    if not message.startswith((":", "holds")):  # a missing folder or file names the layout
        assert "train-easy/ train-medium/ train-hard/ interpolate/ extrapolate/" in str(info.value)


def test_bad_folder_exits_2_from_the_script(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        generate_data.main(["--config", str(SMALL), "--set", f"paths.data_dir={tmp_path / 'd'}",
                            "--set", f"data.source_dir={tmp_path / 'nowhere'}"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("generate_data.py: error: data.source_dir") and "\n" not in err


def test_val_too_large_for_a_file_is_an_error(tmp_path):
    src = make_layout(tmp_path / "src", n_train=5)
    with pytest.raises(UserError, match="lower data.val_size or raise data.train_per_module"):
        generate(mathds_cfg(src, modules=["mul"], val_size=15))


def test_the_new_families_read_from_their_own_files_with_unique_split_names():
    """Each module is read from <family>__<module>.txt; the conversion module's extrapolation file has the
    training module's name and becomes its own split, the head of extrapolate/measurement__conversion.txt."""
    cfg = mathds_cfg(SAMPLE, modules=["conversion", "sort", "is_prime"], train_per_module=20, val_size=9,
                     test_per_module=5)
    splits = generate(cfg)
    assert list(splits) == ["train", "val", "measurement__conversion", "comparison__sort", "numbers__is_prime",
                            "comparison__sort_more", "measurement__conversion_extrapolate"]
    for split, folder, stem in [("measurement__conversion", "interpolate", "measurement__conversion"),
                                ("measurement__conversion_extrapolate", "extrapolate", "measurement__conversion"),
                                ("comparison__sort_more", "extrapolate", "comparison__sort_more")]:
        assert [(r["text"], r["target"]) for r in splits[split]] == problems(SAMPLE / folder / f"{stem}.txt")[:5]
        assert {r["difficulty"] for r in splits[split]} == {folder}
    assert splits["measurement__conversion"] != splits["measurement__conversion_extrapolate"]
    assert {r["module"] for r in splits["train"]} == {"conversion", "sort", "is_prime"}
    assert [(r["text"], r["target"]) for r in splits["train"] if r["module"] == "sort"][:3] == \
        problems(SAMPLE / "train-easy" / "comparison__sort.txt")[:3]


def test_a_missing_file_of_a_new_family_is_named(tmp_path):
    src = make_layout(tmp_path / "src")
    with pytest.raises(UserError, match=r"missing train-easy/numbers__gcd\.txt") as info:
        generate(mathds_cfg(src, modules=["mul", "gcd"], val_size=6))
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match=r"missing extrapolate/measurement__conversion\.txt"):
        generate(mathds_cfg(src, modules=["mul"], test_modules=["conversion_extrapolate"], val_size=6))


def test_the_conversion_extrapolation_file_keeps_a_split_of_its_own(tmp_path):
    """eval --data on the official extrapolate/measurement__conversion.txt: a split apart from the
    interpolate file's."""
    inter = load_problem_file(SAMPLE / "interpolate" / "measurement__conversion.txt")
    extra = load_problem_file(SAMPLE / "extrapolate" / "measurement__conversion.txt")
    assert {r["split"] for r in inter} == {"measurement__conversion"} and inter[0]["module"] == "conversion"
    assert {r["split"] for r in extra} == {"measurement__conversion_extrapolate"}
    assert extra[0]["module"] == "conversion_extrapolate" and extra[0]["difficulty"] == "extrapolate"
    numbers = load_problem_file(SAMPLE / "extrapolate" / "numbers__round_number_big.txt")
    assert numbers[0]["split"] == "numbers__round_number_big" and numbers[0]["module"] == "round_number_big"


def test_mathds_table_groups_modules_by_family():
    summ = lambda k, n: {"n": n, "n_correct": k}  # noqa: E731
    metrics = {"hybrid": {"numbers__gcd": summ(4, 4), "arithmetic__mul": summ(1, 2), "comparison__pair": summ(0, 2),
                          "numbers__lcm": summ(2, 4), "comparison__sort_more": summ(1, 1),
                          "measurement__conversion_extrapolate": summ(0, 1)}}
    lines = [line.split()[:3] for line in format_mathds_table(metrics).splitlines()]
    start = lines.index(["Interpolate", "n", "Hybrid"])
    assert lines[start + 1:start + 10] == [
        ["arithmetic", "2", "50.0"], ["mul", "2", "50.0"], ["comparison", "2", "0.0"], ["pair", "2", "0.0"],
        ["numbers", "8", "75.0"], ["gcd", "4", "100.0"], ["lcm", "4", "50.0"], ["overall", "12", "58.3"], []]
    assert lines[start + 10:start + 16] == [
        ["Extrapolate", "n", "Hybrid"], ["comparison", "1", "100.0"], ["sort_more", "1", "100.0"],
        ["measurement", "1", "0.0"], ["conversion_extrapolate", "1", "0.0"], ["overall", "2", "50.0"]]


# --- the two-line format and the table -----------------------------------------------------------------

def test_two_line_files_read_as_records(tmp_path):
    path = tmp_path / "extrapolate" / "arithmetic__mul_big.txt"
    path.parent.mkdir()
    path.write_text("What is 2 times -3?\r\n-6\r\nCalculate 1/4.\n1/4\n")
    records = load_problem_file(path)
    assert records == [
        {"id": "arithmetic__mul_big-000000", "split": "arithmetic__mul_big", "task": "mathds",
         "text": "What is 2 times -3?", "target": "-6", "n_ops": 1, "module": "mul_big", "difficulty": "extrapolate"},
        {"id": "arithmetic__mul_big-000001", "split": "arithmetic__mul_big", "task": "mathds",
         "text": "Calculate 1/4.", "target": "1/4", "n_ops": 1, "module": "mul_big", "difficulty": "extrapolate"}]
    assert not is_jsonl(path)
    assert [q for _, q, _ in read_problems(path, 1)] == ["What is 2 times -3?"]
    odd = tmp_path / "odd.txt"
    odd.write_text("What is 1 + 1?\n2\nWhat is 2 + 2?\n")
    with pytest.raises(UserError, match=r"odd\.txt:4: empty or missing line"):
        load_problem_file(odd)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("What is 1 + 1?\n2\nWhat is 2 \u00d7 2?\n4\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin\.txt: not UTF-8"):
        load_problem_file(latin)


def test_section_of_split_names():
    assert [section_of(s) for s in ALL_TESTS] == ["interpolate"] * 21 + ["extrapolate"] * 12
    assert section_of("comparison__sort_more") == section_of("numbers__round_number_big") == "extrapolate"
    assert section_of("measurement__conversion_extrapolate") == "extrapolate"
    assert section_of("measurement__conversion") == section_of("numbers__is_prime") == "interpolate"
    assert section_of("arithmetic__add_or_sub_in_base") == "interpolate"
    assert section_of("arithmetic__mul_big_full") == section_of("my__arithmetic__mixed_longer") == "extrapolate"
    assert section_of("probe") == section_of("test_id") == "other"


def test_fraction_answers_have_a_relative_error():
    assert parse_number("-52304477/3") == Fraction(-52304477, 3)
    assert parse_number("1/0") is None and parse_number("1/2/3") is None
    assert rel_error("1/2", "1/4") == pytest.approx(0.25)
    assert rel_error("-80348.83919", "-80348.83919") == 0.0
    assert summarize(["-52304477/3", "0.5"], ["-52304477/3", "1/2"])["exact_match"] == 0.5  # strings, not values


def test_mathds_table_rows_sections_and_pooled_overall():
    summ = lambda k, n: {"n": n, "n_correct": k}  # noqa: E731
    metrics = {
        "hybrid": {"arithmetic__mul_big": summ(9, 10), "arithmetic__mul": summ(10, 10), "arithmetic__div": summ(3, 4)},
        "token_only": {"arithmetic__mul": summ(5, 10), "arithmetic__div": summ(1, 4),
                       "arithmetic__mul_big": summ(0, 10)},
        "xval": {"arithmetic__mul": summ(2, 10)},
    }
    lines = format_mathds_table(metrics).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Interpolate"))
    assert lines[header].split() == ["Interpolate", "n", "Token-Only", "Hybrid", "xVal"]
    rows = [line.split() for line in lines[header + 1:header + 5]]
    assert [r[0] for r in rows] == ["arithmetic", "mul", "div", "overall"]  # family, its modules, pooled
    lo, hi = wilson_interval(13, 14)
    for r in (rows[0], rows[3]):  # one family: its row and the section's overall are the same pool
        assert r[1:5] == ["14", "42.9", f"({100 * wilson_interval(6, 14)[0]:.1f}-"
                          f"{100 * wilson_interval(6, 14)[1]:.1f})", "92.9"]
        assert r[5] == f"({100 * lo:.1f}-{100 * hi:.1f})" and r[6] == "-"  # xVal lacks div: no pooled value
    extra = lines[lines.index(next(x for x in lines if x.startswith("Extrapolate"))) + 2].split()
    assert extra[:3] == ["mul_big", "10", "0.0"]


def test_format_table_dispatches_mathds():
    from fxlab.metrics import format_table
    assert format_table({"hybrid": {"arithmetic__mul": {"n": 1, "n_correct": 1}}}, "mathds").startswith(
        "=== Mathematics Dataset")


# --- end to end: generate, train token-only, eval with a two-line --data file --------------------------

def test_pipeline_on_a_tiny_layout_with_a_two_line_data_file(tmp_path, capsys, one_thread):
    src = make_layout(tmp_path / "src", n_train=20, n_test=5)
    config = tmp_path / "mathds_tiny.yaml"
    config.write_text(yaml.safe_dump({
        "task": "mathds", "seed": 0, "device": "cpu",
        "data": {"source_dir": str(src), "modules": ["mul"], "train_per_module": 20, "val_size": 6,
                 "test_per_module": None},
        "model": {"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "max_seq_len": 48},
        "training": {"epochs": 1, "batch_size": 16, "warmup_steps": 2},
        "paths": {"data_dir": "unused", "results_dir": "unused"}}))
    args = script_args(config, tmp_path)
    assert generate_data.main(args) == 0
    assert train_token_only.main(args) == 0
    probe = tmp_path / "official" / "arithmetic__mul_big_full.txt"  # an official-format file, renamed
    probe.parent.mkdir()
    probe.write_text("What is 7 * 6?\n42\nCalculate 3*-5.\n-15\n")
    capsys.readouterr()
    assert eval_script.main(args + ["--models", "token_only", "--data", str(probe)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert set(metrics["token_only"]) == {"arithmetic__mul", "arithmetic__mul_big", "arithmetic__mul_big_full"}
    assert metrics["token_only"]["arithmetic__mul_big_full"]["n"] == 2
    rows = read_jsonl(tmp_path / "results" / "predictions" / "token_only" / "arithmetic__mul_big_full.jsonl")
    assert [(r["text"], r["target"]) for r in rows] == [("What is 7 * 6?", "42"), ("Calculate 3*-5.", "-15")]
    assert "=== Mathematics Dataset Evaluation ===" in out
    table = out[out.index("=== Mathematics Dataset"):]
    assert table.index("Interpolate") < table.index("  mul ") < table.index("Extrapolate") \
        < table.index("  mul_big ") < table.index("  mul_big_full ")
    # a --data file whose stem is already a test split is refused (its results would overwrite the split's)
    clash = tmp_path / "arithmetic__mul_big.txt"
    clash.write_text("What is 7 * 6?\n42\n")
    with pytest.raises(SystemExit) as info:
        eval_script.main(args + ["--models", "token_only", "--data", str(clash)])
    assert info.value.code == 2
