"""The hybrid model: input format, steps on the FluxEM executor, and the docs/design.md §5.4 guards (a), (b), (c).

The guards need a trained model: `trained` trains a small hybrid once per session (about 20 s on
2 CPU cores) on 1-3 operation expressions with operands in [0, 99].
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fxlab import executor as E  # noqa: E402
from fxlab.models import hybrid as H  # noqa: E402
from fxlab.config import config_from_dict  # noqa: E402
from fxlab.data import write_dataset  # noqa: E402
from fxlab.tasks import generate  # noqa: E402
from fxlab.tasks.arithmetic import arithmetic_record  # noqa: E402
from fxlab.models.hybrid import SLOT  # noqa: E402
from fxlab.tasks import get_task  # noqa: E402
from fxlab.train.loop import train  # noqa: E402
from fxlab.models import build_model  # noqa: E402

SCRIPTS = Path(__file__).resolve().parents[1] / "experiments" / "scripts" / "fxlab"
pytestmark = pytest.mark.usefixtures("one_thread")


def small_config(tmp: Path, **model) -> object:
    raw = {
        "task": "arithmetic", "seed": 3, "device": "cpu",
        "data": {"train_size": 800, "val_size": 100, "test_size": 100, "id_range": [0, 99], "id_ops": [1, 3],
                 "ood_magnitude_range": [10**6, 10**9], "ood_ops": [5, 7], "ood_max_ops": 7,
                 "operations": ["+", "-", "*"]},
        "model": {"hidden_dim": 64, "num_layers": 2, "num_heads": 4, "dropout": 0.0, "attn_window": 2, **model},
        "training": {"epochs": 12, "batch_size": 32, "learning_rate": 0.003, "warmup_steps": 20, "patience": 0},
        "paths": {"data_dir": str(tmp / "data"), "results_dir": str(tmp / "results")},
    }
    return config_from_dict(raw)


def random_expression(rng: random.Random, n_ops: int, hi: int) -> dict:
    operands = [rng.randint(0, hi) for _ in range(n_ops + 1)]
    ops = [rng.choice("+-*") for _ in range(n_ops)]
    return arithmetic_record("probe", 0, operands, ops)


def exact_match(model, records) -> float:
    preds = model.predict([r["text"] for r in records])
    return sum(p == r["target"] for p, r in zip(preds, records)) / len(records)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hybrid")
    cfg = small_config(tmp)
    write_dataset(cfg, generate(cfg), cfg.data_path)
    train("hybrid", cfg)
    model = build_model("hybrid", cfg)
    model.load_state_dict(torch.load(cfg.results_path / "hybrid" / "best.pt", weights_only=True)["model"])
    return cfg, model


# ----------------------------------------------------------------------------- input and executor


def test_each_span_becomes_one_slot():
    ids, values = H.initial_state("123456789012345678901 + 7 * 3", get_task("arithmetic"))
    assert [int(enc_decode(v)) for v in values] == [123456789012345678901, 7, 3]
    assert ids.count(SLOT) == 3
    assert len(ids) == 1 + 3 + 6 + 1  # BOS, 3 slots, the 6 characters of " + " and " * ", EOS


def enc_decode(v):
    import fluxem

    return fluxem.NumberEncoder().decode_exact(v.vector)


def test_steps_are_exact_far_past_float():
    """The executor, driven step by step as the network would drive it, is exact beyond float64."""
    a, b, c = 987654321987654321, 123456789123456789, 10**20
    task = get_task("arithmetic")
    ids, values = H.initial_state(f"{a} * {b} - {c}", task)
    ids, values = H.run_step(ids, values, {0: "*"}, {})
    ids, values = H.run_step(ids, values, {0: "-"}, {})
    assert ids.count(SLOT) == 1 and task.answer(values[0], None) == str(a * b - c)


@pytest.mark.parametrize("text, op, want", [("convert 3.5 km to m", "convert", "3500 m"),
                                            ("can you add 3 kg and 20 lb?", "can_add", "true"),
                                            ("12 m / 3 s", "/", "4 m/s")])
def test_units_questions_are_one_step(text, op, want):
    task = get_task("units")
    ids, values = H.initial_state(text, task)
    ids, values = H.run_step(ids, values, {0: op}, {})
    assert task.answer(values[0], None) == want


def test_inference_code_does_not_parse_the_text():
    """No eval, regex or operator-string inspection in the modules that produce hybrid answers."""
    for name in ("models/hybrid.py", "executor.py"):
        tree = ast.parse((SCRIPTS / name).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        assert "re" not in imported
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not calls & {"eval", "exec", "compile"}


@pytest.mark.parametrize("task", ["arithmetic", "units", "mathds"])
def test_predict_never_calls_the_teacher(tmp_path, monkeypatch, task):
    """The teacher (Task.actions, teacher_states) labels training states only: with both made to fail,
    an untrained model still answers every question (right or wrong)."""
    from fxlab.tasks import base

    def refuse(*args, **kwargs):
        raise AssertionError("the teacher was called at inference")

    monkeypatch.setattr(base, "teacher_states", refuse)
    monkeypatch.setattr(H, "teacher_states", refuse)
    model = H.HybridModel(small_config(tmp_path).model, get_task(task))
    monkeypatch.setattr(type(model.task), "actions", refuse)
    out = model.predict(["What is 2 + 3?", "convert 3 km to m", "Calculate (-5)*7 - 2/4.", "no numbers"])
    assert len(out) == 4 and all(isinstance(a, str) for a in out)


def test_readout_switch_builds_both_and_rejects_unknown(tmp_path):
    assert build_model("hybrid", small_config(tmp_path)).readout == "algebraic"
    assert build_model("hybrid", small_config(tmp_path, readout="regression")).readout == "regression"
    with pytest.raises(Exception, match="readout"):
        build_model("hybrid", small_config(tmp_path, readout="calculator"))


@pytest.mark.parametrize("side", ["both", "left"])
def test_attn_side_left_reads_nothing_to_the_right(tmp_path, side):
    """model.attn_side "left": every position's encoding is a function of what precedes it, so changing
    the last operand leaves every earlier position unchanged; "both" lets it reach back."""
    torch.manual_seed(0)
    model = build_model("hybrid", small_config(tmp_path, attn_side=side)).eval()
    a, b = (model._batch([model._initial_features(f"12 - 7 + {x}")]) for x in (3, 900))
    with torch.no_grad():
        ha, hb = model.encode(a), model.encode(b)  # (1, T, C)
    last = int((a["ids"][0] == SLOT).nonzero()[-1])
    earlier_same = torch.allclose(ha[0, :last], hb[0, :last])
    assert earlier_same == (side == "left")
    assert not torch.allclose(ha[0, last], hb[0, last])


def test_regression_readout_trains(tmp_path):
    cfg = small_config(tmp_path, readout="regression")
    model = build_model("hybrid", cfg)
    records = [random_expression(random.Random(i), 1, 20) for i in range(64)]
    batch = model.collate(records)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        _, loss = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(p.lstrip("-").isdigit() for p in model.predict([r["text"] for r in records[:5]]))


# ----------------------------------------------------------------------------- docs/design.md §5.4 guards


def test_trained_model_is_exact_in_distribution(trained):
    cfg, model = trained
    rng = random.Random(11)
    assert exact_match(model, [random_expression(rng, rng.randint(1, 3), 99) for _ in range(200)]) >= 0.97


def test_guard_a_untrained_model_scores_far_below_trained(trained):
    cfg, model = trained
    rng = random.Random(12)
    records = [random_expression(rng, rng.randint(1, 3), 99) for _ in range(200)]
    untrained = build_model("hybrid", cfg)
    assert exact_match(untrained, records) <= 0.35
    assert exact_match(model, records) - exact_match(untrained, records) >= 0.6


def test_guard_b_steps_follow_the_operators(trained):
    """The network's first step names the operator between the first two numbers, and changes with it."""
    _, model = trained
    rng = random.Random(13)
    for _ in range(20):
        a, b, c = (rng.randint(0, 99) for _ in range(3))
        texts = [f"{a} {op} {b} + {c}" for op in "+-*"]
        steps = model.predict_steps(texts)
        assert [gaps for gaps, _ in steps] == [{0: "+"}, {0: "-"}, {0: "*"}], (texts, steps)
        assert all(not unary for _, unary in steps)


def test_guard_c_longer_inputs_than_trained(trained):
    _, model = trained
    rng = random.Random(14)
    long_records = [random_expression(rng, rng.randint(6, 10), 99) for _ in range(200)]
    assert max(r["n_ops"] for r in long_records) > 3  # trained on at most 3 operations
    assert exact_match(model, long_records) >= 0.95


def test_larger_operands_than_trained(trained):
    _, model = trained
    rng = random.Random(15)
    records = [random_expression(rng, rng.randint(1, 3), 10**15) for _ in range(200)]
    assert exact_match(model, records) >= 0.95


def test_batched_prediction_equals_one_at_a_time(trained):
    """Padding must not change an answer: steps come out the same in any batch."""
    _, model = trained
    rng = random.Random(16)
    texts = [random_expression(rng, rng.randint(1, 9), 10 ** rng.randint(1, 12))["text"] for _ in range(30)]
    assert model.predict(texts) == [model.predict([t])[0] for t in texts]
    assert model.predict_steps(texts) == [model.predict_steps([t])[0] for t in texts]
