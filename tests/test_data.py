"""Arithmetic data: determinism, disjointness, exact targets (checked via Python's own parser), roles."""

from __future__ import annotations

import ast
import json

import pytest

import generate_data
from fxlab import UserError
from fxlab.config import REPO_ROOT, load_config
from fxlab.data import make_dir, read_jsonl, remove_stray_tmp, write_jsonl
from fxlab.tasks import generate
from fxlab.tasks.arithmetic import SPLITS

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
FILES = [f"{s}.jsonl" for s in SPLITS] + ["manifest.json"]


def run_generate(out_dir, *extra):
    assert generate_data.main(["--config", str(TINY), "--set", f"paths.data_dir={out_dir}", *extra]) == 0
    return {name: (out_dir / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def tiny_splits():
    return generate(load_config(TINY))


def py_eval(text: str) -> int:
    """Evaluate with Python's grammar (its precedence), independently of fxlab.data."""
    def ev(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__}
            return ops[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(ast.dump(node))
    return ev(ast.parse(text, mode="eval").body)


def test_same_seed_gives_byte_identical_files(tmp_path):
    assert run_generate(tmp_path / "a") == run_generate(tmp_path / "b")


def test_other_seed_gives_different_files(tmp_path):
    a, b = run_generate(tmp_path / "a"), run_generate(tmp_path / "b", "--seed", "1")
    assert all(a[f] != b[f] for f in FILES)


def test_no_val_or_test_text_in_train_and_all_unique(tiny_splits):
    train = {r["text"] for r in tiny_splits["train"]}
    for split, records in tiny_splits.items():
        texts = [r["text"] for r in records]
        assert len(set(texts)) == len(texts), split
        if split != "train":
            assert not train & set(texts), split
    cfg = load_config(TINY)
    assert len(tiny_splits["train"]) == cfg.data.train_size and len(tiny_splits["val"]) == cfg.data.val_size


def test_targets_are_exact_with_standard_precedence(tiny_splits):
    for records in tiny_splits.values():
        for r in records:
            assert r["target"] == str(py_eval(r["text"])), r


def test_big_operands_stay_exact():
    cfg = load_config(REPO_ROOT / "experiments" / "configs" / "arithmetic_full.yaml",
                      {"data.train_size": 5, "data.val_size": 5, "data.test_size": 50})
    for r in generate(cfg)["test_ood_magnitude"]:
        assert r["target"] == str(py_eval(r["text"]))
        assert all(10**6 <= x <= 10**9 for x in r["operands"])


def test_text_format_and_record_fields(tiny_splits):
    cfg = load_config(TINY)
    for split, records in tiny_splits.items():
        for r in records:
            tokens = r["text"].split(" ")
            assert tokens[0::2] == [str(x) for x in r["operands"]] and tokens[1::2] == r["ops"]
            assert (r["split"], r["task"], r["n_ops"]) == (split, "arithmetic", len(r["ops"]))
            lo, hi = cfg.data.ood_ops if split == "test_ood_length" else cfg.data.id_ops
            assert lo <= r["n_ops"] <= hi
            vlo, vhi = cfg.data.ood_magnitude_range if split == "test_ood_magnitude" else cfg.data.id_range
            assert all(vlo <= x <= vhi for x in r["operands"])


def test_roles_encode_the_structure(tiny_splits):
    """Summing signed product terms as the roles say gives the target; roles follow the operators."""
    for records in tiny_splits.values():
        for r in records:
            tokens = r["text"].split(" ")
            assert r["roles"] == ["+"] + tokens[1::2]
            total, sign, term = 0, 1, None
            for x, role in zip(r["operands"], r["roles"]):
                if role == "*":
                    term *= x
                else:
                    total += sign * term if term is not None else 0
                    sign, term = (1 if role == "+" else -1), x
            assert str(total + sign * term) == r["target"]


def test_every_op_count_and_operator_occurs(tiny_splits):
    train = tiny_splits["train"]
    assert {r["n_ops"] for r in train} == {1, 2}
    assert {op for r in train for op in r["ops"]} == {"+", "-", "*"}
    assert any(r["target"].startswith("-") for r in train)


def test_exhausted_expression_space_is_a_user_error():
    cfg = load_config(TINY, {"data.id_range": [0, 9], "data.id_ops": [1, 1], "data.ood_ops": [3, 4],
                             "data.train_size": 300})
    with pytest.raises(UserError, match="distinct 'train' expressions"):
        generate(cfg)


def test_read_jsonl_reports_file_and_line(tmp_path):
    good = json.dumps({"id": "a", "text": "1 + 2", "target": "3"})
    path = tmp_path / "x.jsonl"
    path.write_text(good + "\n" + good + "\n{broken\n")
    with pytest.raises(UserError, match=r"x\.jsonl:3: not valid JSON"):
        read_jsonl(path)
    path.write_text(good + "\n" + json.dumps({"id": "b", "text": "1"}) + "\n")
    with pytest.raises(UserError, match=r"x\.jsonl:2: .*missing key\(s\) target"):
        read_jsonl(path)
    path.write_text(good + "\n[1, 2]\n")
    with pytest.raises(UserError, match=r"x\.jsonl:2: expected a JSON object"):
        read_jsonl(path)
    path.write_text(good + "\n\n" + good + "\n")
    assert len(read_jsonl(path)) == 2
    with pytest.raises(UserError, match="data file not found"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_generate_data_writes_a_manifest(tmp_path):
    run_generate(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["files"]["train.jsonl"]["n"] == 200
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_non_utf8_jsonl_is_a_user_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"id": "a", "text": "caf\xe9", "target": "1"}\n')
    with pytest.raises(UserError, match=r"x.jsonl: not UTF-8 text \(byte 24\)"):
        read_jsonl(path)


def test_a_line_separator_inside_a_text_is_not_a_line_break(tmp_path):
    path = tmp_path / "x.jsonl"
    write_jsonl(path, [{"id": "a", "text": "1\u2028+ 2", "target": "3"}])
    assert read_jsonl(path)[0]["text"] == "1\u2028+ 2"


def test_make_dir_says_which_file_is_in_the_way(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match=r"cannot create directory .*f/sub/dir: .*f is a file"):
        make_dir(tmp_path / "f" / "sub" / "dir")


def test_remove_stray_tmp_deletes_only_temp_files(tmp_path):
    (tmp_path / ".last.pt.x1y2.tmp").write_bytes(b"half")
    (tmp_path / "last.pt").write_bytes(b"whole")
    assert [p.name for p in remove_stray_tmp(tmp_path)] == [".last.pt.x1y2.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
