"""The token-only baseline: vocabulary, batching, cached decoding, and a fairness test (it learns addition)."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fxlab import UserError
from fxlab.config import config_from_dict
from fxlab.data import read_jsonl, write_jsonl
from fxlab.tasks.arithmetic import arithmetic_record
from fxlab.train.loop import load_checkpoint, train
from fxlab.models import build_model
from fxlab.models.token_model import BOS, EOS, IGNORE, SEP, UNK, VOCAB, decode, encode, reverse_answer


pytestmark = pytest.mark.usefixtures("one_thread")


def make_cfg(tmp_path, **model):
    return config_from_dict({
        "task": "arithmetic", "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 32, "num_layers": 2, "num_heads": 2, "dropout": 0.0, "max_seq_len": 32, **model},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })


def test_vocabulary_is_fixed_and_round_trips():
    assert len(VOCAB) == 5 + 10 + 9 + 52 + 9  # specials, digits, "+-*/=.,^ ", letters, "°µ²³⁻·()?"
    for text in ["12 + 7 * 3", "-4396", "convert 3.5 km to m", "9.8 m/s^2", "100 °C", "6.6×10⁻³⁴?"]:
        ids = encode(text)
        assert all(0 <= i < len(VOCAB) for i in ids)
        known = "".join(c if i != UNK else "\ufffd" for c, i in zip(text, ids))
        assert decode(ids) == known
    assert encode("×") == [UNK]


def test_collate_puts_loss_on_answer_and_eos_only(tmp_path):
    model = build_model("token_only", make_cfg(tmp_path))
    records = [{"id": "a", "text": "1 + 2", "target": "3"}, {"id": "b", "text": "10 * 10", "target": "100"}]
    batch = model.collate(records)
    idx, targets = batch["idx"], batch["targets"]
    assert idx.shape == targets.shape == (2, len("10 * 10") + len("100") + 2)
    assert idx[0, 0] == BOS and idx[0, 6] == SEP
    assert targets[0][targets[0] != IGNORE].tolist() == encode("3") + [EOS]
    assert targets[1][targets[1] != IGNORE].tolist() == encode("100") + [EOS]
    logits, loss = model(batch)
    assert logits.shape == (*idx.shape, len(VOCAB)) and loss.ndim == 0
    assert model({"idx": idx})[1] is None


def test_collate_rejects_examples_longer_than_the_window(tmp_path):
    model = build_model("token_only", make_cfg(tmp_path, max_seq_len=8))
    with pytest.raises(UserError, match="max_seq_len"):
        model.collate([{"id": "x", "text": "123 + 456", "target": "579"}])


def test_seeded_init_is_reproducible(tmp_path):
    a, b = (build_model("token_only", make_cfg(tmp_path)) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_cached_decoding_matches_a_full_forward(tmp_path):
    model = build_model("token_only", make_cfg(tmp_path)).eval()
    seq = torch.tensor([[BOS] + encode("12 + 7 * 3") + [SEP] + encode("33")])  # (1, T)
    full = model.lm_head(model.hidden(seq))[0]  # (T, V)
    prompt_len = seq.shape[1] - 2
    caches = [{} for _ in model.blocks]
    pos = torch.arange(prompt_len)[None]
    mask = torch.ones(1, 1, prompt_len, prompt_len, dtype=torch.bool).tril()
    steps = [model.lm_head(model.hidden(seq[:, :prompt_len], pos, mask, caches))[0, -1]]
    for t in range(prompt_len, seq.shape[1]):
        valid = torch.ones(1, 1, 1, t + 1, dtype=torch.bool)
        steps.append(model.lm_head(model.hidden(seq[:, t : t + 1], torch.tensor([[t]]), valid, caches))[0, -1])
    torch.testing.assert_close(torch.stack(steps), full[prompt_len - 1 :], atol=1e-5, rtol=1e-5)


def test_batched_prediction_equals_one_at_a_time(tmp_path):
    model = build_model("token_only", make_cfg(tmp_path))
    texts = ["1 + 2", "12 + 7 * 3", "999 - 1", "5", "3 * 3 * 3 * 3"]
    assert model.predict(texts) == [model.predict([t])[0] for t in texts]
    assert model.training  # predict restores the mode it found


def test_input_longer_than_the_window_predicts_empty(tmp_path):
    model = build_model("token_only", make_cfg(tmp_path, max_seq_len=12))
    out = model.predict(["1 + 2", "123456 + 654321"])
    assert out[1] == "" and len(out[0]) <= 12 - len("1 + 2") - 2


# Reversed answers need half the epochs here (the units digit, written first, needs no carry), which
# also keeps this second run cheap.
@pytest.mark.parametrize("answer_order, epochs", [("forward", 80), ("reversed", 40)])
def test_fairness_token_only_learns_two_digit_addition(tmp_path, answer_order, epochs):
    """The baseline is fair: trained briefly on a + b (a, b in 0..29) it solves held-out pairs, whichever
    order it writes the answer in (predict returns normal order: the check is against the plain sum)."""
    pairs = [(a, b) for a in range(30) for b in range(30)]
    random.Random(0).shuffle(pairs)
    records = [arithmetic_record("fair", i, [a, b], ["+"]) for i, (a, b) in enumerate(pairs)]
    write_jsonl(tmp_path / "data" / "train.jsonl", records[:600])
    write_jsonl(tmp_path / "data" / "val.jsonl", records[600:750])  # model selection
    write_jsonl(tmp_path / "data" / "test.jsonl", records[750:])  # never seen
    from fxlab.data import write_manifest  # training checks the split files against a manifest
    write_manifest(tmp_path / "data", "arithmetic")
    cfg = config_from_dict({
        "task": "arithmetic", "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 64, "num_layers": 2, "num_heads": 4, "dropout": 0.0, "max_seq_len": 16,
                  "answer_order": answer_order},
        "training": {"epochs": epochs, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 20,
                     "weight_decay": 0.1, "eval_every": 10},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })
    train("token_only", cfg)
    tensors, _ = load_checkpoint(tmp_path / "results" / "token_only" / "best", cfg, "")
    model = build_model("token_only", cfg)
    model.load_state_dict(tensors["model"])
    test = read_jsonl(tmp_path / "data" / "test.jsonl")
    predictions = model.predict([r["text"] for r in test])
    accuracy = sum(p == str(a + b) for p, (a, b) in zip(predictions, pairs[750:])) / len(test)
    assert accuracy >= 0.9, accuracy


@pytest.mark.parametrize("target, written", [("0", "0"), ("7", "7"), ("120", "021"), ("-4396", "-6934"),
                                             ("-5", "-5"), ("1000000", "0000001")])
def test_reversed_answer_order_writes_least_significant_digit_first_sign_first(target, written):
    assert reverse_answer(target) == written
    assert reverse_answer(written) == target


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-10**30, max_value=10**30))
def test_reversed_answer_order_round_trips_every_integer(n):
    digits = str(abs(n))
    written = reverse_answer(str(n))
    assert written == ("-" if n < 0 else "") + digits[::-1]  # sign first, then units, tens, ...
    assert int(reverse_answer(written)) == n


@given(st.sampled_from(["", "-"]), st.text(alphabet="0123456789.x\ufffd", max_size=12))
def test_reverse_answer_maps_any_prediction_back_without_error(sign, body):
    text = sign + body  # a malformed prediction (leading zeros, junk) still decodes, and round-trips
    assert reverse_answer(text) == sign + body[::-1]
    assert reverse_answer(reverse_answer(text)) == text


def test_reversed_model_trains_on_reversed_targets_and_predicts_in_normal_order(tmp_path):
    cfg = make_cfg(tmp_path, answer_order="reversed")
    model = build_model("token_only", cfg)
    batch = model.collate([{"id": "a", "text": "5 - 4401", "target": "-4396"}])
    assert batch["targets"][0][batch["targets"][0] != IGNORE].tolist() == encode("-6934") + [EOS]
    forward = build_model("token_only", make_cfg(tmp_path))  # same seed, same weights, same greedy ids
    texts = ["1 + 2", "12 - 7 - 30", "999 - 1"]
    assert model.predict(texts) == [reverse_answer(a) for a in forward.predict(texts)]


def test_answer_order_is_checked(tmp_path):
    with pytest.raises(UserError, match="model.answer_order.*forward, reversed"):
        make_cfg(tmp_path, answer_order="backwards")
