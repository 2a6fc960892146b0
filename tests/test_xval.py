"""The xVal baseline (fxlab/models/xval.py): [NUM] segmentation, value normalization, batching, a fairness test
(it learns addition to a loose tolerance), the checkpoint round trip, and eval.py integration."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest
from conftest import script_args

torch = pytest.importorskip("torch")

import eval as eval_script  # noqa: E402
import generate_data  # noqa: E402
import train_xval  # noqa: E402
from fxlab.models import xval  # noqa: E402
from fxlab.config import REPO_ROOT, config_from_dict  # noqa: E402
from fxlab.data import read_jsonl, write_jsonl  # noqa: E402
from fxlab.tasks.arithmetic import arithmetic_record  # noqa: E402
from fxlab.train.loop import load_checkpoint, train  # noqa: E402
from fxlab.metrics import rel_error  # noqa: E402
from fxlab.models import build_model  # noqa: E402
from fxlab.models.token_model import CHAR_TO_ID, EOS, IGNORE, SEP, encode  # noqa: E402
from fxlab.models.xval import INPUT_CLIP, NUM, fit_scale, segment  # noqa: E402

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
pytestmark = pytest.mark.usefixtures("one_thread")


def make_cfg(tmp_path, task="arithmetic", **model):
    return config_from_dict({
        "task": task, "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 32, "num_layers": 2, "num_heads": 2, "dropout": 0.0, "max_seq_len": 32, **model},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })


@pytest.mark.parametrize("text, ids, values", [
    ("12 + 7 * 3", [NUM, *encode(" + "), NUM, *encode(" * "), NUM], [12, 0, 0, 0, 7, 0, 0, 0, 3]),
    ("-4396", [NUM], [-4396]),
    ("3500 m", [NUM, *encode(" m")], [3500, 0, 0]),  # the unit after a quantity's number stays text
    ("convert 3.5 km to m", [*encode("convert "), NUM, *encode(" km to m")], [0] * 8 + [3.5] + [0] * 8),
    ("1.5e+06 km", [NUM, *encode(" km")], [1.5e6, 0, 0, 0]),
    ("true", encode("true"), [0, 0, 0, 0]),
])
def test_segment_makes_one_num_token_per_number(text, ids, values):
    assert segment(text) == (ids, [float(v) for v in values])


def test_fit_scale_is_the_largest_training_value():
    records = [{"text": "3 + 4", "target": "7"}, {"text": "20 * 50", "target": "1000"}, {"text": "0", "target": "0"}]
    assert fit_scale(records) == 1000.0
    assert fit_scale([{"text": "0 + 0", "target": "0"}]) == 1.0


def test_normalization_maps_training_values_into_plus_minus_5_and_clips_ood_values(tmp_path):
    model = build_model("xval", make_cfg(tmp_path))
    model.value_scale.fill_(1000.0)
    raw = torch.tensor([1000.0, -1000.0, 500.0, 0.0, 1e6, -math.inf, 1e308], dtype=torch.float64)
    m = model.normalize(raw)
    assert m.tolist() == [5.0, -5.0, 2.5, 0.0, INPUT_CLIP, -INPUT_CLIP, INPUT_CLIP]
    # an integer literal beyond the float range gives no span (fluxem.detect_spans): it stays characters,
    # never an error or a NaN
    ids, values = segment(str(10**400) + " + 1")
    assert ids[0] != NUM and all(math.isfinite(v) for v in values)
    out = model.predict([str(10**400) + " + 1"])
    assert isinstance(out[0], str)


def test_collate_scales_num_embeddings_and_puts_mse_on_answer_numbers_only(tmp_path):
    model = build_model("xval", make_cfg(tmp_path))
    model.value_scale.fill_(100.0)
    batch = model.collate([{"id": "a", "text": "12 + 7", "target": "19"},
                           {"id": "b", "text": "convert 3 km to m", "target": "3000 m"}])
    idx, mult, targets = batch["idx"], batch["mult"], batch["targets"]
    # row 0: BOS [NUM] " + " [NUM] SEP | [NUM] EOS; the input [NUM]s carry 5 * v / S
    assert idx[0, :6].tolist() == [1, NUM, *encode(" + "), NUM] and idx[0, 6] == SEP
    assert mult[0, 1].item() == pytest.approx(0.6) and mult[0, 5].item() == pytest.approx(0.35)
    assert mult[0, 2].item() == 1.0
    assert targets[0][targets[0] != IGNORE].tolist() == [NUM, EOS]
    assert batch["num_mask"][0].nonzero().flatten().tolist() == [6]  # SEP predicts the answer's [NUM]
    assert batch["num_targets"][0, 6].item() == pytest.approx(0.95)
    # row 1: the question's [NUM] is an input only; the answer is [NUM] " m" EOS
    assert targets[1][targets[1] != IGNORE].tolist() == [NUM, CHAR_TO_ID[" "], CHAR_TO_ID["m"], EOS]
    assert batch["num_mask"][1].sum().item() == 1
    assert batch["num_targets"][1][batch["num_mask"][1]].item() == pytest.approx(INPUT_CLIP)  # 150: clipped
    outputs, loss = model(batch)
    assert outputs["logits"].shape[:2] == outputs["num"].shape == idx.shape and loss.ndim == 0
    assert model({"idx": idx, "mult": mult})[1] is None


def test_number_head_value_is_written_the_way_the_task_writes_targets(tmp_path):
    arithmetic, units = build_model("xval", make_cfg(tmp_path)), build_model("xval", make_cfg(tmp_path, "units"))
    assert [arithmetic.format_value(v) for v in (18.6, -4395.5001, 0.2, math.nan)] == ["19", "-4396", "0", ""]
    assert [units.format_value(v) for v in (3500.0, 1234567.0, 0.5)] == ["3500", "1.23457e+06", "0.5"]


def test_batched_prediction_equals_one_at_a_time(tmp_path):
    model = build_model("xval", make_cfg(tmp_path))
    model.value_scale.fill_(50.0)
    texts = ["1 + 2", "12 + 7 * 3", "999 - 1", "5", "convert 3 km to m"]
    assert model.predict(texts) == [model.predict([t])[0] for t in texts]
    assert model.training  # predict restores the mode it found


@pytest.mark.slow  # ~40 s on a shared 2-core CPU
def test_fairness_xval_learns_addition_to_a_loose_tolerance(tmp_path):
    """Trained briefly on a + b (a, b in 0..29), xVal's regressed sums on held-out pairs are close."""
    pairs = [(a, b) for a in range(30) for b in range(30)]
    random.Random(0).shuffle(pairs)
    records = [arithmetic_record("fair", i, [a, b], ["+"]) for i, (a, b) in enumerate(pairs)]
    write_jsonl(tmp_path / "data" / "train.jsonl", records[:600])
    write_jsonl(tmp_path / "data" / "val.jsonl", records[600:750])
    write_jsonl(tmp_path / "data" / "test.jsonl", records[750:])
    from fxlab.data import write_manifest  # training checks the split files against a manifest
    write_manifest(tmp_path / "data", "arithmetic")
    cfg = config_from_dict({
        "task": "arithmetic", "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 64, "num_layers": 2, "num_heads": 4, "dropout": 0.0, "max_seq_len": 16},
        "training": {"epochs": 30, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 20,
                     "weight_decay": 0.1, "eval_every": 5},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })
    train("xval", cfg)
    tensors, _ = load_checkpoint(tmp_path / "results" / "xval" / "best", cfg, "")
    assert tensors["model"]["value_scale"].item() == 58.0  # 29 + 29, the largest training value
    model = build_model("xval", cfg)
    model.load_state_dict(tensors["model"])
    test = read_jsonl(tmp_path / "data" / "test.jsonl")
    predictions = model.predict([r["text"] for r in test])
    errors = [rel_error(p, r["target"]) for p, r in zip(predictions, test)]
    assert statistics.median(errors) <= 0.05, statistics.median(errors)
    within_two = sum(abs(int(p) - int(r["target"])) <= 2 for p, r in zip(predictions, test)) / len(test)
    assert within_two >= 0.8, within_two


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """generate -> train_xval (2 epochs) on arithmetic_tiny through the scripts' main()."""
    root = tmp_path_factory.mktemp("xval_tiny")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    assert train_xval.main(base + ["--epochs", "2"]) == 0
    return root, base


def test_checkpoint_round_trip_restores_weights_and_the_training_scale(tiny_run, tmp_path):
    root, base = tiny_run
    cfg = eval_script.config_from_args(eval_script.base_parser("t", "").parse_args(base))
    tensors, meta = load_checkpoint(root / "results" / "xval" / "best", cfg, "")
    assert meta["model"] == "xval"
    expected_scale = fit_scale(read_jsonl(root / "data" / "train.jsonl"))
    assert tensors["model"]["value_scale"].item() == expected_scale
    # without the training file the fresh model has scale 1; the checkpoint brings the training scale back
    moved = config_from_dict({**cfg.to_dict(), "paths": {"data_dir": str(tmp_path / "none"),
                                                         "results_dir": str(tmp_path / "r")}})
    model = build_model("xval", moved)
    assert model.value_scale.item() == 1.0
    model.load_state_dict(tensors["model"])
    assert model.value_scale.item() == expected_scale
    reference = build_model("xval", cfg)
    reference.load_state_dict(tensors["model"])
    texts = [r["text"] for r in read_jsonl(root / "data" / "test_id.jsonl")[:20]]
    assert model.predict(texts) == reference.predict(texts)


def test_eval_reports_an_xval_column(tiny_run, capsys):
    root, base = tiny_run
    capsys.readouterr()
    assert eval_script.main(base + ["--models", "xval"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("=== Arithmetic Evaluation ==="):].splitlines()
    assert table[2].split() == ["xVal"]
    metrics = json.loads((root / "results" / "metrics.json").read_text())
    assert set(metrics) == {"xval"}
    for split in ("test_id", "test_ood_magnitude", "test_ood_length"):
        s = metrics["xval"][split]
        assert s["n"] == 40 and 0.0 <= s["exact_match"] <= 1.0 and s["median_rel_error"] is not None
    rows = read_jsonl(root / "results" / "predictions" / "xval" / "test_id.jsonl", required=("prediction",))
    assert all(r["prediction"] == "" or r["prediction"].lstrip("-").isdigit() for r in rows)  # integers


def test_eval_includes_xval_by_default_only_when_it_is_trained(tiny_run, tmp_path):
    root, base = tiny_run
    parse = lambda argv: eval_script.config_from_args(eval_script.base_parser("t", "").parse_args(argv))  # noqa: E731
    assert eval_script.default_models(parse(base)) == ["token_only", "xval", "hybrid"]
    elsewhere = base[:-1] + [f"paths.results_dir={tmp_path / 'results'}"]  # no xval checkpoint there
    assert eval_script.default_models(parse(elsewhere)) == ["token_only", "hybrid"]



def test_units_task_through_the_scripts(tmp_path, capsys):
    """units_tiny: xVal answers in the units form ("value unit" / "true" / "false"), and the units table
    gets its xVal column with dimensional correctness and boolean accuracy (numbers mean nothing here)."""
    base = script_args(REPO_ROOT / "experiments" / "configs" / "units_tiny.yaml", tmp_path)
    assert generate_data.main(base) == 0
    assert train_xval.main(base + ["--epochs", "1"]) == 0
    capsys.readouterr()
    assert eval_script.main(base + ["--models", "xval"]) == 0
    out = capsys.readouterr().out
    assert "=== Units Evaluation ===" in out and "Boolean Accuracy:" in out
    test_id = json.loads((tmp_path / "results" / "metrics.json").read_text())["xval"]["test_id"]
    assert {"dimensional_correctness", "boolean_accuracy", "median_rel_error"} <= set(test_id)
    train = read_jsonl(tmp_path / "data" / "train.jsonl")
    assert fit_scale(train) == max(abs(v) for r in train for t in (r["text"], r["target"]) for v in segment(t)[1])


# ---------------------------------------------------------------- the hybrid's slot_embedding: hidden control


def test_hybrid_hidden_slot_embedding_carries_the_type_but_not_the_value(tmp_path):
    """model.slot_embedding: hidden shows the network no value: slot embeddings, and so the whole encoding
    and the predicted roles, are the same for any values in the same places."""
    texts = ["3 + 4 * 5", "77 + 12 * 90", "0 + 99999 * 1"]  # same characters between the numbers
    hidden = build_model("hybrid", make_cfg(tmp_path, slot_embedding="hidden")).eval()
    batch = hidden._batch([hidden._initial_features(t) for t in texts])
    h = hidden.encode(batch)
    # equal up to float rounding of batched kernels (a value leak would differ by ~1e-1, as below)
    torch.testing.assert_close(h[1], h[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(h[2], h[0], rtol=0, atol=1e-5)
    assert hidden.predict_steps(texts[:1]) * 3 == hidden.predict_steps(texts)
    # the type still reaches the network: a quantity slot embeds differently from a number slot
    units = build_model("hybrid", make_cfg(tmp_path, task="units", slot_embedding="hidden")).eval()
    q = units._batch([units._initial_features("3 m + 4 m"), units._initial_features("3 + 4 + 5")])
    assert (units.encode(q)[0, 1] - units.encode(q)[1, 1]).abs().max() > 1e-2
    # the default shows the values: the same texts encode differently (same seed, same weights)
    shown = build_model("hybrid", make_cfg(tmp_path)).eval()
    h_shown = shown.encode(shown._batch([shown._initial_features(t) for t in texts]))
    assert (h_shown[1] - h_shown[0]).abs().max() > 1e-2


def test_hybrid_slot_embedding_is_checked_and_the_old_key_named(tmp_path):
    from fxlab import UserError
    with pytest.raises(UserError, match="model.slot_embedding.*fluxem, fone, xval, digits, hidden"):
        make_cfg(tmp_path, slot_embedding="none")
    with pytest.raises(UserError, match="model.value_readout.*executor, pointer"):
        make_cfg(tmp_path, value_readout="both")
    with pytest.raises(UserError, match="now model.slot_embedding"):
        make_cfg(tmp_path, slot_features="hidden")


def test_log_scaling_variant_round_trips_and_clips(tmp_path):
    model = build_model("xval", make_cfg(tmp_path, xval_scaling="log"))
    model.value_scale.fill_(999.0)  # log10(1 + S) = 3
    raw = torch.tensor([999.0, -999.0, 0.0, 9.0, 1e300, -math.inf], dtype=torch.float64)
    m = model.normalize(raw)
    assert m[:4].tolist() == pytest.approx([5.0, -5.0, 0.0, 5 / 3])
    assert m[4:].tolist() == [INPUT_CLIP, -INPUT_CLIP]
    for v in (0.0, 1.0, -7.0, 123.0, -98765.0):
        assert model.denormalize(model.normalize(torch.tensor([v], dtype=torch.float64)).item()) == pytest.approx(v, rel=1e-5, abs=1e-5)
    assert model.denormalize(INPUT_CLIP) == pytest.approx(10**30 - 1, rel=1e-5)  # clipped, finite
    with pytest.raises(Exception, match="model.xval_scaling"):
        make_cfg(tmp_path, xval_scaling="sqrt")


def test_xval_doctests():
    import doctest
    result = doctest.testmod(xval)
    assert result.failed == 0 and result.attempted > 0
