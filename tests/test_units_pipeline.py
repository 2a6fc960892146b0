"""The units task end to end through the four scripts' main() (units_tiny: seconds; its numbers mean nothing),
and a short hybrid training run that must learn the units roles."""

from __future__ import annotations

import json

import pytest
from conftest import script_args

torch = pytest.importorskip("torch")

import eval as eval_script  # noqa: E402
import generate_data  # noqa: E402
import train_hybrid  # noqa: E402
import train_token_only  # noqa: E402
from fxlab.config import REPO_ROOT  # noqa: E402

TINY = REPO_ROOT / "experiments" / "configs" / "units_tiny.yaml"
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def units_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("units")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    assert train_token_only.main(base) == 0
    # More hybrid epochs than the tiny default, so that the roles are learned (epochs are not part of
    # the config fingerprint, so eval.py still accepts the checkpoint).
    assert train_hybrid.main(base + ["--epochs", "15"]) == 0
    return root, base


def test_units_pipeline_writes_units_metrics_and_table(units_run, capsys):
    root, base = units_run
    capsys.readouterr()
    assert eval_script.main(base) == 0
    out = capsys.readouterr().out
    assert "=== Units Evaluation ===" in out and "OOD types" in out
    assert "Dimensional Correctness:" in out and "Boolean Accuracy:" in out
    metrics = json.loads((root / "results" / "metrics.json").read_text())
    assert set(metrics) == {"token_only", "hybrid"}
    for model in metrics.values():
        assert set(model) == {"test_id", "test_ood_magnitude", "test_ood_types"}
        test_id = model["test_id"]
        assert {"dimensional_correctness", "dimensional_correctness_ci95", "boolean_accuracy"} <= set(test_id)
        assert "boolean_accuracy" not in model["test_ood_types"]  # no can_add items there


def test_trained_hybrid_answers_units_questions(units_run):
    root, _ = units_run
    metrics = json.loads((root / "results" / "metrics.json").read_text())
    # 200 training questions, 12 epochs of a tiny model: not the real experiment, but the roles must be learned
    assert metrics["hybrid"]["test_id"]["exact_match"] >= 0.8
    assert metrics["hybrid"]["test_id"]["dimensional_correctness"] >= 0.8
