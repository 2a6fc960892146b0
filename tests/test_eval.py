"""Metrics (Wilson, relative error), the results table, and the tiny end-to-end pipeline through main()."""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import shutil
import signal

import pytest
from conftest import script_args

import eval as eval_script
import generate_data
import make_stress_data
import train_token_only
from fxlab import data, metrics
from fxlab.models import token_model
from fxlab.config import REPO_ROOT, load_config
from fxlab.metrics import format_table, rel_error, summarize, wilson_interval

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("k, n, expected", [
    (0, 10, (0.0, 0.2775)),
    (10, 10, (0.7225, 1.0)),
    (5, 10, (0.2366, 0.7634)),
    (81, 263, (0.2553, 0.3662)),  # Wilson's interval as tabulated for 81/263 (e.g. Wikipedia, statsmodels)
])
def test_wilson_interval_known_values(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == expected


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(1, 1)
    assert 0.0 <= lo < hi == 1.0


@pytest.mark.parametrize("pred, target, expected", [
    ("33", "33", 0.0),
    ("30", "33", 3 / 33),
    ("-5", "5", 2.0),
    ("1", "0", 1.0),  # denominator max(|0|, 1)
    ("", "33", 1.0),
    ("3 3", "33", 1.0),  # junk after a number: unparsable for a bare-number target
    ("3 m", "4 m", 0.25),  # "value unit" targets compare the leading values
    ("abc", "33", 1.0),
    ("1e999999999", "33", 1.0),  # exponent out of bounds: unparsable, not a hang
    (str(10**40 + 1), str(10**40), 1e-40),  # exact big-int arithmetic before rounding
    (str(10**60), str(10**60 - 1), 1 / (10**60 - 1)),
])
def test_rel_error(pred, target, expected):
    assert rel_error(pred, target) == pytest.approx(expected, rel=1e-12, abs=0)


def test_rel_error_non_numeric_target_is_skipped():
    assert rel_error("true", "true") is None
    s = summarize(["true", "3"], ["true", "4"])
    assert s["n_numeric_targets"] == 1 and s["median_rel_error"] == 0.25


def test_summarize_shape():
    s = summarize(["1", "2", "x", "4"], ["1", "2", "3", "5"])
    assert s["exact_match"] == 0.5 and s["n"] == 4 and s["n_correct"] == 2
    assert s["exact_match_ci95"] == list(wilson_interval(2, 4))
    assert s["median_rel_error"] == pytest.approx(0.1)  # errors 0, 0, 0.2, 1 -> (0 + 0.2) / 2


def test_table_format_matches_the_spec():
    def row(em, rel):
        return {"exact_match": em, "median_rel_error": rel, "exact_match_ci95": [em / 2, (1 + em) / 2], "n": 10}
    splits = ("test_id", "test_ood_magnitude", "test_ood_length")
    m = {"token_only": dict(zip(splits, [row(0.9, 0.0), row(0.0, 0.5), row(0.05, 1)])),
         "hybrid": dict(zip(splits, [row(1.0, 0.0), row(0.985, 0.0), row(1.0, 0)]))}
    table = format_table(m)
    assert table.splitlines()[:10] == [
        "=== Arithmetic Evaluation ===",
        "",
        "                    Token-Only    Hybrid",
        "ID Test             90.0%         100.0%",
        "OOD-A (magnitude)   0.0%          98.5%",
        "OOD-B (length)      5.0%          100.0%",
        "",
        "Relative Error (median):",
        "ID Test             0             0",
        "OOD-A (magnitude)   0.5           0",
    ]
    assert "Exact Match 95% CI (Wilson, %):" in table
    assert "ID Test             45.0-95.0     50.0-100.0" in table


def test_table_adds_extra_splits_after_the_standard_ones():
    r = {"exact_match": 0.5, "median_rel_error": 0.1, "exact_match_ci95": [0.2, 0.8], "n": 2}
    lines = format_table({"token_only": {"test_id": r, "my_probe": r}}).splitlines()
    assert lines[3].startswith("ID Test") and lines[4].startswith("my_probe")


def test_library_doctests():
    from fxlab import executor
    from fxlab.models import hybrid
    from fxlab.tasks import arithmetic, mathds

    for module in (metrics, token_model, executor, hybrid, arithmetic, mathds):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """generate -> train token_only -> eval, through the scripts' main() in a temp dir."""
    root = tmp_path_factory.mktemp("pipeline")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    assert train_token_only.main(base + ["--epochs", "2"]) == 0
    extra = root / "my_probe.jsonl"
    extra.write_text("".join(json.dumps({"id": f"p{i}", "text": f"{i} + 1", "target": str(i + 1)}) + "\n"
                             for i in range(5)))
    return root, base, extra


def test_end_to_end_tiny_pipeline(pipeline, capsys):
    root, base, extra = pipeline
    capsys.readouterr()
    assert eval_script.main(base + ["--models", "token_only", "--data", str(extra)]) == 0
    out = capsys.readouterr().out
    assert "=== Arithmetic Evaluation ===" in out and "Token-Only" in out and "my_probe" in out
    results = root / "results"
    m = json.loads((results / "metrics.json").read_text())
    assert list(m) == ["token_only"]
    assert set(m["token_only"]) == {"test_id", "test_ood_magnitude", "test_ood_length", "my_probe"}
    for split, s in m["token_only"].items():
        assert {"exact_match", "exact_match_ci95", "median_rel_error", "n"} <= set(s)
        assert isinstance(s["exact_match"], float) and isinstance(s["median_rel_error"], float)
    assert m["token_only"]["test_id"]["n"] == 40 and m["token_only"]["my_probe"]["n"] == 5
    rows = data.read_jsonl(results / "predictions" / "token_only" / "test_id.jsonl")
    assert len(rows) == 40 and {"id", "text", "target", "prediction", "correct"} <= set(rows[0])
    assert all(r["correct"] == (r["prediction"] == r["target"]) for r in rows)
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # plots are optional (the `plot` extra); eval.py says it skipped them
        assert "matplotlib is not installed" in out
    else:
        assert (results / "plots" / "exact_match.png").is_file()


def test_eval_is_deterministic(pipeline):
    root, base, _ = pipeline
    outputs = []
    for _ in range(2):
        assert eval_script.main(base + ["--models", "token_only"]) == 0
        outputs.append((root / "results" / "metrics.json").read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("extra, expected", [
    (["--models", "hybrid,token_only"], "train_hybrid.py --config"),  # no hybrid checkpoint in this run
    (["--models", "token_only", "--data", "{root}/test_id.jsonl"], "already used"),
    (["--models", "token_only", "--data", "{root}/missing.jsonl"], "data file not found"),
    (["--models", "gpt5"], "--models"),
])
def test_eval_errors_are_one_line(pipeline, capsys, extra, expected):
    root, base, _ = pipeline
    (root / "test_id.jsonl").write_text((root / "data" / "test_id.jsonl").read_text())
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + [e.format(root=root) for e in extra])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and expected in err and "\n" not in err, err


def test_eval_rejects_a_checkpoint_of_another_config(pipeline, capsys):
    _, base, _ = pipeline
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + ["--models", "token_only", "--set", "model.hidden_dim=64"])
    assert exc.value.code == 2 and "different config" in capsys.readouterr().err


def test_eval_accepts_a_checkpoint_when_only_another_models_key_changed(pipeline, capsys):
    """model.attn_side is the hybrid's alone: the token-only checkpoint stays valid (per-model fingerprint),
    and its predictions are the same as under the config it was trained with."""
    root, base, _ = pipeline
    assert eval_script.main(base + ["--models", "token_only"]) == 0
    before = json.loads((root / "results" / "metrics.json").read_text())
    assert eval_script.main(base + ["--models", "token_only", "--set", "model.attn_side=left",
                                    "--set", "model.xval_scaling=log"]) == 0
    assert json.loads((root / "results" / "metrics.json").read_text()) == before
    with pytest.raises(SystemExit) as exc:  # a key the token model reads still counts
        eval_script.main(base + ["--models", "token_only", "--set", "model.answer_order=reversed"])
    assert exc.value.code == 2 and "different config" in capsys.readouterr().err


# ---------------------------------------------------------------- reliability (issue 9)


def test_empty_test_split_exits_2_instead_of_reporting_0_percent(pipeline, tmp_path, capsys):
    root, base, _ = pipeline
    copy = tmp_path / "data"
    shutil.copytree(root / "data", copy)
    (copy / "test_id.jsonl").write_text("")
    manifest = json.loads((copy / "manifest.json").read_text())  # as if generate_data.py had written it empty
    manifest["files"]["test_id.jsonl"] = {"n": 0, "sha256": hashlib.sha256(b"").hexdigest()}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + ["--models", "token_only", "--set", f"paths.data_dir={copy}"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "test_id.jsonl has no records" in err and "\n" not in err, err


def test_eval_of_one_model_keeps_the_other_models_results(pipeline, capsys):
    root, base, _ = pipeline
    path = root / "results" / "metrics.json"
    before = path.read_bytes()
    earlier = {"exact_match": 0.5, "median_rel_error": 0.0, "exact_match_ci95": [0.1, 0.9], "n": 4}
    path.write_text(json.dumps({"hybrid": {"test_id": earlier}, "token_only": {"my_old_probe": earlier}}))
    try:
        capsys.readouterr()
        assert eval_script.main(base + ["--models", "token_only"]) == 0
        assert "keeping the earlier results of hybrid" in capsys.readouterr().out
        m = json.loads(path.read_text())
        assert m["hybrid"] == {"test_id": earlier}
        assert {"test_id", "my_old_probe"} <= set(m["token_only"]) and m["token_only"]["test_id"]["n"] == 40
    finally:
        path.write_bytes(before)


def test_eval_refuses_a_checkpoint_of_the_other_model(pipeline, capsys):
    root, base, _ = pipeline
    results = root / "results"
    (results / "hybrid").mkdir(exist_ok=True)
    for name in ("best.pt", "best.json"):
        shutil.copy(results / "token_only" / name, results / "hybrid" / name)
    try:
        with pytest.raises(SystemExit) as exc:
            eval_script.main(base + ["--models", "hybrid"])
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and "checkpoint of model 'token_only', not 'hybrid'" in err and "\n" not in err
    finally:
        shutil.rmtree(results / "hybrid")


def test_single_valued_plots_are_skipped(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rows = {"m": {"s": [{"n_ops": 1, "max_operand_digits": d, "correct": d < 3} for d in (1, 2, 3)]}}
    saved = eval_script.save_plots(rows, tmp_path)  # the n_ops panel is left out, magnitude stays
    assert [p.name for p in saved] == ["exact_match.png"]
    assert eval_script.save_plots({"m": {"s": rows["m"]["s"][:1]}}, tmp_path / "one") == []
    assert "skipping the exact match figure: every record has the same value of" in capsys.readouterr().out


def test_make_stress_data_help_describes_every_flag():
    parser = make_stress_data.build_parser()
    flags = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert {a.dest for a in flags} == {"task", "out", "n", "seed"}
    assert all(a.help and len(a.help) > 15 for a in flags)


@pytest.mark.parametrize("argv, expected", [
    (["--task", "arithmetic", "--out", "{tmp}/x.jsonl", "--n", "0"], "--n must be >= 1"),
    (["--task", "arithmetic", "--out", "{tmp}/x.jsonl", "--seed", "99999999999999999999"], "--seed must be"),
    (["--task", "arithmetic", "--out", "{tmp}"], "is a folder"),
])
def test_make_stress_data_errors_are_one_line(tmp_path, capsys, argv, expected):
    with pytest.raises(SystemExit) as exc:
        make_stress_data.main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and expected in err and "\n" not in err, err


def test_a_second_eval_on_the_same_results_folder_exits_2(pipeline, capsys):
    root, base, _ = pipeline
    from fxlab.train.loop import run_lock
    with run_lock(root / "results"):
        with pytest.raises(SystemExit) as exc:
            eval_script.main(base + ["--models", "token_only"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "another process" in err and "\n" not in err, err


@pytest.mark.parametrize("preds, targets", [([], []), (["1"], ["1", "2"])])
def test_summarize_refuses_nothing_or_mismatched_lists(preds, targets):
    with pytest.raises(ValueError, match="at least one target"):
        summarize(preds, targets)


# ---------------------------------------------------------------- one eval's outputs are committed together


def _outputs(results) -> dict:
    """{relative path: bytes} of metrics.json and predictions/, plus the names of any temp files."""
    files = [results / "metrics.json", *sorted((results / "predictions").rglob("*"))]
    return {str(p.relative_to(results)): p.read_bytes() for p in files if p.is_file()}


def test_a_bom_prefixed_data_file_is_scored_as_jsonl(pipeline, tmp_path):
    root, base, extra = pipeline
    bom = tmp_path / "bom_probe.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + extra.read_bytes())
    assert eval_script.main(base + ["--models", "token_only", "--data", str(bom)]) == 0
    assert json.loads((root / "results" / "metrics.json").read_text())["token_only"]["bom_probe"]["n"] == 5
    rows = data.read_jsonl(root / "results" / "predictions" / "token_only" / "bom_probe.jsonl")
    assert [r["text"] for r in rows] == [f"{i} + 1" for i in range(5)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_inference_writes_nothing(pipeline, monkeypatch, capsys, signum):
    root, base, _ = pipeline
    assert eval_script.main(base + ["--models", "token_only"]) == 0
    before = _outputs(root / "results")
    calls = []

    def predict(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    real = eval_script.predict_texts
    monkeypatch.setattr(eval_script, "predict_texts", predict)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + ["--models", "token_only", "--set", "training.eval_batch_size=7"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 128 + signum and "\n" not in err, err
    assert f"interrupted by {signal.Signals(signum).name} before writing anything" in err
    assert _outputs(root / "results") == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_a_crash_in_a_later_model_leaves_the_earlier_models_outputs_unwritten(pipeline, monkeypatch):
    """Two models (the token model loaded twice, as token_only and as hybrid): the second crashes, so
    nothing is written, and metrics.json still describes the predictions on disk."""
    root, base, _ = pipeline
    assert eval_script.main(base + ["--models", "token_only"]) == 0
    before = _outputs(root / "results")
    token = eval_script.load_trained("token_only", load_config(TINY, {"paths.data_dir": str(root / "data"),
                                                                    "paths.results_dir": str(root / "results")}), "cpu")
    monkeypatch.setattr(eval_script, "load_trained", lambda name, cfg, device: token)
    real = eval_script.evaluate_model

    def evaluate(name, model, datasets, cfg):
        if name == "hybrid":
            raise RuntimeError("boom")
        summaries, rows = real(name, model, datasets, cfg)
        for split_rows in rows.values():  # predictions that differ from those on disk
            split_rows[0]["prediction"] = "changed"
        return summaries, rows

    monkeypatch.setattr(eval_script, "evaluate_model", evaluate)
    with pytest.raises(RuntimeError, match="boom"):
        eval_script.main(base + ["--models", "token_only,hybrid"])
    assert _outputs(root / "results") == before


def test_a_signal_while_writing_is_held_back_until_every_file_is_written(pipeline, monkeypatch, capsys):
    root, base, _ = pipeline
    results = root / "results"
    (results / "metrics.json").unlink()
    shutil.rmtree(results / "predictions")
    real = eval_script.write_jsonl
    monkeypatch.setattr(eval_script, "write_jsonl",
                        lambda *a: (os.kill(os.getpid(), signal.SIGTERM), real(*a)))
    with pytest.raises(SystemExit) as exc:
        eval_script.main(base + ["--models", "token_only"])
    assert exc.value.code == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in capsys.readouterr().err
    m = json.loads((results / "metrics.json").read_text())
    for split, summary in m["token_only"].items():
        rows = data.read_jsonl(results / "predictions" / "token_only" / f"{split}.jsonl")
        assert summary["n"] == len(rows) and summary["n_correct"] == sum(r["correct"] for r in rows)


def test_stale_temp_files_of_a_killed_eval_are_removed(pipeline):
    root, base, _ = pipeline
    results = root / "results"
    stray = [results / ".metrics.json.k1ll3d.tmp", results / "predictions" / "token_only" / ".test_id.jsonl.x.tmp"]
    others = results / "token_only" / ".last.pt.abc.tmp"  # a training run's, not eval's to remove
    for p in [*stray, others]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("partial")
    try:
        assert eval_script.main(base + ["--models", "token_only"]) == 0
        assert not any(p.exists() for p in stray) and others.exists()
    finally:
        others.unlink()


def test_a_bad_metrics_entry_is_not_merged_and_written_back(pipeline, capsys):
    root, base, _ = pipeline
    path = root / "results" / "metrics.json"
    before = path.read_bytes()
    bad = {**json.loads(before), "xval": {"test_id": "oops"}}
    path.write_text(json.dumps(bad))
    try:
        for _ in range(2):  # refused each time, and the file is left as it was
            with pytest.raises(SystemExit) as exc:
                eval_script.main(base + ["--models", "token_only"])
            err = capsys.readouterr().err.strip()
            assert exc.value.code == 2 and "entry 'xval' / 'test_id' is not a summary object" in err, err
            assert json.loads(path.read_text()) == bad
    finally:
        path.write_bytes(before)
