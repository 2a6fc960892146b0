"""eval.py's input checks, the JSONL / two-line readers and the YAML config reader on hostile input.

Every check here runs before a model is loaded, so no checkpoint (and no training) is needed: the tiny
arithmetic config's data are generated once, and eval.py's main() is expected to stop at the bad input.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import script_args

import eval as eval_script
import generate_data
from fxlab import UserError, data
from fxlab.cli import config_from_args, base_parser
from fxlab.config import REPO_ROOT, load_config, short
from fxlab.data import read_jsonl, text_lines
from fxlab.tasks.mathds_data import is_jsonl, load_problem_file
from fxlab.metrics import metrics_problem, summarize

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
MINIMAL = "task: arithmetic\npaths: {data_dir: d, results_dir: r}\n"
GOOD = {"id": "a", "text": "1 + 1", "target": "2"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The tiny config's data in a temp dir (no checkpoint: eval stops before loading one)."""
    root = tmp_path_factory.mktemp("reliability")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    return root, base + ["--models", "token_only"]


def run_eval(base, argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + argv)
    return exc.value.code, capsys.readouterr().err.strip()


def jsonl(path, *records, raw: str = ""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + raw)
    return path


def write_config(tmp_path, text: str):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- --data records


def test_a_bom_prefixed_jsonl_is_read_as_jsonl(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n" + json.dumps({**GOOD, "id": "b"}).encode())
    assert is_jsonl(path)
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]


def test_an_empty_target_is_refused_and_an_empty_answer_never_scores(generated, tmp_path, capsys):
    _, base = generated
    path = jsonl(tmp_path / "probe.jsonl", GOOD, {**GOOD, "id": "b", "target": ""})
    code, err = run_eval(base, ["--data", str(path)], capsys)
    assert code == 2 and "probe.jsonl:2: 'target' must be a non-empty string" in err and "\n" not in err, err
    with pytest.raises(ValueError, match="non-empty targets"):
        summarize([""], [""])


@pytest.mark.parametrize("line, expected", [
    ('{"id": "a", "text": "1 + 1", "target": "2", "operands": ["one"]}', "'operands' must be a list of finite numbers"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "operands": [NaN]}', "'operands' must be a list of finite numbers"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "units": 5}', "'units' must be a list of strings"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "kind": [1]}', "'kind' must be a string"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "n_ops": "2"}', "'n_ops' must be an integer >= 0"),
    ('{"id": [1], "text": "1 + 1", "target": "2"}', "'id' must be a string or an integer"),
    ('{"id": "a", "text": "", "target": "2"}', "'text' must be a non-empty string"),
    ('{"id": "a", "text": "1 + 1", "target": 2}', "'target' must be a non-empty string"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "operands": [' + "9" * 5000 + "]}", "more than 4300 digits"),
    ('{"id": "a", "text": "1 + 1", "target": "2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"id": "a", "text": "1 + 1\\ud800", "target": "2"}', "not part of a surrogate pair"),
])
def test_bad_record_fields_exit_2_naming_file_and_line_before_inference(generated, tmp_path, capsys, line, expected):
    _, base = generated
    path = jsonl(tmp_path / "probe.jsonl", GOOD, raw=line + "\n")
    code, err = run_eval(base, ["--data", str(path)], capsys)
    assert code == 2 and f"probe.jsonl:2: " in err and expected in err and "\n" not in err, err
    assert len(err) < 300, err  # the bad value is quoted shortened


def test_repeated_records_and_texts_shared_with_train_are_warned_about(generated, tmp_path, capsys):
    root, base = generated
    train_text = read_jsonl(root / "data" / "train.jsonl")[0]["text"]
    path = jsonl(tmp_path / "probe.jsonl", GOOD, {**GOOD, "id": "b"}, {**GOOD, "id": "c"},
                 {"id": "d", "text": train_text, "target": "0"}, {"id": "e", "text": "999 * 999", "target": "998001"})
    cfg = config_from_args(base_parser("t", "").parse_args(base[:-2]))
    capsys.readouterr()
    datasets = eval_script.load_datasets(cfg, [str(path)])
    assert len(datasets["probe"]) == 5  # warned about, still all scored
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"warning: --data {path}: 2 record(s) repeat the text of an earlier one") and "\n" not in err
    assert f"1 text(s) are also in {root / 'data' / 'train.jsonl'}" in err
    clean = jsonl(tmp_path / "clean.jsonl", {"id": "e", "text": "999 * 999", "target": "998001"})
    eval_script.load_datasets(cfg, [str(clean)])
    assert capsys.readouterr().err == ""


def test_a_binary_file_is_named_binary_without_reading_it_whole(generated, tmp_path, capsys):
    _, base = generated
    path = tmp_path / "blob.jsonl"
    with open(path, "wb") as f:
        f.truncate(64 << 20)  # 64 MiB of NUL bytes, sparse: no newline anywhere
    start = time.perf_counter()
    code, err = run_eval(base, ["--data", str(path)], capsys)
    assert code == 2 and "blob.jsonl is a binary file (a NUL byte on line 1)" in err and "\n" not in err, err
    assert time.perf_counter() - start < 1.5


def test_a_newline_free_text_file_stops_at_the_line_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "long.jsonl"
    path.write_text('{"id": "a", "text": "' + "1" * 5000)
    with pytest.raises(UserError, match=r"long\.jsonl:1: line longer than 1000 bytes; not a JSONL file\?"):
        read_jsonl(path)
    path.write_text(json.dumps(GOOD) + "\n" + "x" * 999)  # at the cap: read, then reported as bad JSON
    with pytest.raises(UserError, match=r"long\.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_text_lines_keeps_the_line_numbers_and_the_byte_offset_of_bad_utf8(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xef\xbb\xbfab\r\n\ncaf\xc3\xa9\nd\xff\n")
    lines = text_lines(path, "JSONL")
    assert [next(lines) for _ in range(3)] == [(1, "ab\r"), (2, ""), (3, "café")]
    with pytest.raises(UserError, match=r"x\.txt: not UTF-8 text \(byte 15\) on line 4; JSONL files are UTF-8"):
        next(lines)


def test_a_dangling_symlink_is_called_a_broken_symlink(generated, tmp_path, capsys):
    root, base = generated
    link = tmp_path / "probe.jsonl"
    link.symlink_to(tmp_path / "gone.jsonl")
    code, err = run_eval(base, ["--data", str(link)], capsys)
    assert code == 2 and f"data file {link} is a broken symlink (to {tmp_path / 'gone.jsonl'})" in err, err
    results = tmp_path / "results"
    results.symlink_to(tmp_path / "nowhere")
    with pytest.raises(SystemExit) as exc:
        generate_data.main(script_args(TINY, tmp_path) + ["--set", f"paths.data_dir={results}"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and f"{results} is a broken symlink" in err and "is a file" not in err, err


def test_a_non_utf8_two_line_file_names_its_own_format(generated, tmp_path, capsys):
    _, base = generated
    path = tmp_path / "arithmetic__probe.txt"
    path.write_bytes("What is 3 \u00d7 4?\n12\n".encode("latin-1"))
    code, err = run_eval(base, ["--data", str(path)], capsys)
    assert code == 2 and "not UTF-8 text" in err and "mathematics_dataset two-line files are UTF-8" in err, err
    assert "JSONL" not in err
    path.write_bytes(b"\xef\xbb\xbfWhat is 3 times 4?\r\n12\r\n")  # BOM and CRLF: read as they are meant
    assert [(r["text"], r["target"]) for r in load_problem_file(path)] == [("What is 3 times 4?", "12")]


# ---------------------------------------------------------------- metrics.json


def test_a_bad_metrics_entry_is_refused_before_inference_and_left_untouched(generated, tmp_path, capsys):
    root, base = generated
    results = tmp_path / "results"
    results.mkdir()
    bad = json.dumps({"token_only": {"test_id": {"exact_match": 0.5, "n": 4}}, "xval": {"test_id": "oops"}})
    (results / "metrics.json").write_text(bad)
    code, err = run_eval(base, ["--set", f"paths.results_dir={results}"], capsys)
    assert code == 2 and "\n" not in err, err
    assert err.endswith(f"{results / 'metrics.json'} is not a metrics file of eval.py: entry 'xval' / 'test_id' is "
                        "not a summary object (got 'oops'); fix that entry or move the file away"), err
    assert (results / "metrics.json").read_text() == bad


@pytest.mark.parametrize("doc, expected", [
    ([], "is not a JSON object of models"),
    ({"m": []}, "entry 'm' is not an object of splits"),
    ({"m": {"s": {"n": 4}}}, "has no exact_match"),
    ({"m": {"s": {"exact_match": 0.5, "n": 0}}}, "has no count n >= 1"),
    ({"m": {"s": {"exact_match": "50%", "n": 4}}}, "has exact_match '50%'"),
    ({"m": {"s": {"exact_match": 0.5, "n": 4, "exact_match_ci95": [0.1]}}}, "has exact_match_ci95 [0.1]"),
    ({"m": {"s": {"exact_match": 0.5, "n": 4, "n_correct": 5}}}, "has n_correct 5"),
    ({"m": {"s": {"exact_match": 0.5, "n": 4, "median_rel_error": "x"}}}, "has median_rel_error 'x'"),
    ({"m": {"s": {"exact_match": 0.5, "n": 4, "median_rel_error": None, "n_correct": 2}}}, None),
])
def test_metrics_problem(doc, expected):
    problem = metrics_problem(doc)
    assert problem == expected if expected is None else expected in problem, problem


# ---------------------------------------------------------------- YAML configs


def test_a_yaml_alias_bomb_is_refused_at_once_in_one_short_line(tmp_path, capsys):
    levels = ['a0: &a0 ["xxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxx"]']
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = "task: arithmetic\npaths: {data_dir: d, results_dir: r}\nmodel:\n  hidden_dim: *a9\n" + \
        "x:\n" + "".join(f"  {line}\n" for line in levels)
    assert len(text) < 1500
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(write_config(tmp_path, text))])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "aliases (*name) are not allowed in a config" in err and "\n" not in err, err
    assert len(err) < 300 and time.perf_counter() - start < 1.0


def test_an_alias_in_a_set_value_is_refused():
    with pytest.raises(UserError, match=r"--set data.id_range: cannot parse value .* aliases \(\*name\)"):
        config_from_args(base_parser("t", "").parse_args(["--config", str(TINY), "--set", "data.id_range=[&a 1, *a]"]))


def test_a_huge_value_is_quoted_shortened(tmp_path):
    with pytest.raises(UserError) as exc:
        load_config(write_config(tmp_path, MINIMAL + "model: {hidden_dim: [" + ", ".join(["7"] * 5000) + "]}"))
    assert "'model.hidden_dim'" in str(exc.value) and "..." in str(exc.value) and len(str(exc.value)) < 300
    assert short(-(10**5000)) == "an integer of about 5001 digits" and short("x" * 10**6).startswith("'xxx")
    assert len(short({"k": ["x" * 1000] * 1000})) <= 100


@pytest.mark.parametrize("text, expected", [
    ("model: " + "[" * 20_000 + "]" * 20_000, "nested more than 20 levels deep"),
    ("training: {epochs: 3}\ntraining: {batch_size: 4}", "key 'training' appears twice in one mapping"),
    ("training: {epochs: 3, epochs: 4}", "key 'epochs' appears twice in one mapping"),
    ("seed: " + "9" * 5000, "a number has more than 4300 digits"),
])
def test_bad_yaml_structure_is_one_line(tmp_path, capsys, text, expected):
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(write_config(tmp_path, MINIMAL + text))])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and expected in err and "\n" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("kinds, ok", [
    ("{convert: 1e308, combine: 1e308, can_add: 1e308}", False),  # the sum overflows
    ("{convert: 1e308}", False),  # finite, but times a split size it is not
    ("{convert: 0, combine: 0}", False),
    ("{convert: -1, combine: 2}", False),
    ("{convert: 3, combine: 1}", True),
    ("{convert: 1e-300}", True),
])
def test_units_kind_weights_need_a_finite_positive_sum(tmp_path, kinds, ok):
    path = write_config(tmp_path, f"task: units\npaths: {{data_dir: d, results_dir: r}}\ndata: {{kinds: {kinds}}}\n")
    if ok:
        assert load_config(path).data.kinds
    else:
        with pytest.raises(UserError, match=r"config key 'data.kinds' .*weights"):
            load_config(path)


@pytest.mark.parametrize("key, expected", [
    ("trainig.epochs", "did you mean training.epochs, training.min_epochs?"),
    ("seeds", "did you mean seed?"),
    ("model.hiddendim", "did you mean model.hidden_dim?"),
    ("model.zzz", "the keys of section 'model' are: hidden_dim, "),
    ("training.lr", "the keys of section 'training' are: epochs, batch_size, learning_rate, "),
    ("zzz", "the top-level keys are task, seed, device, and the sections data, model, training, paths hold"),
])
def test_a_mistyped_set_key_gets_the_closest_keys(key, expected):
    with pytest.raises(UserError) as exc:
        config_from_args(base_parser("t", "").parse_args(["--config", str(TINY), "--set", f"{key}=3"]))
    message = str(exc.value)
    assert message.startswith(f"--set {key}=3: unknown config key '{key}'; {expected}"), message
    assert "paths.results_dir" not in message  # not all 45 keys
