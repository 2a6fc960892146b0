"""The Abacus baseline (fxlab/models/abacus.py): numbers written least-significant digit first, digit indices of a
hand example, the training-only offset, cached decoding against the full-sequence forward pass, the
per-model fingerprint, determinism, the scripts, and a fairness test (it adds numbers longer than it saw)."""

from __future__ import annotations

import random

import pytest
from conftest import script_args
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import eval as eval_script  # noqa: E402
import generate_data  # noqa: E402
import train_abacus  # noqa: E402
from fxlab.models import abacus  # noqa: E402
from fxlab.models.abacus import digit_positions, reverse_digit_runs  # noqa: E402
from fxlab.config import REPO_ROOT, config_from_dict, fingerprint, load_config  # noqa: E402
from fxlab.data import read_jsonl, write_jsonl, write_manifest  # noqa: E402
from fxlab.tasks.arithmetic import arithmetic_record  # noqa: E402
from fxlab.train.loop import load_checkpoint, train  # noqa: E402
from fxlab.models import build_model  # noqa: E402
from fxlab.models.token_model import BOS, EOS, IGNORE, SEP, encode  # noqa: E402

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"
SMALL = REPO_ROOT / "experiments" / "configs" / "arithmetic_small.yaml"
pytestmark = pytest.mark.usefixtures("one_thread")


def make_cfg(tmp_path, **model):
    return config_from_dict({
        "task": "arithmetic", "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 32, "num_layers": 2, "num_heads": 2, "dropout": 0.0, "max_seq_len": 40, **model},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })


@pytest.mark.parametrize("text, written", [("12 + 7 * 305", "21 + 7 * 503"), ("-4396", "-6934"), ("120", "021"),
                                           ("0", "0"), ("convert 3.25 km to m", "convert 3.52 km to m")])
def test_every_number_is_written_least_significant_digit_first(text, written):
    assert reverse_digit_runs(text) == written
    assert reverse_digit_runs(written) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10**30, max_value=10**30), st.integers(min_value=0, max_value=10**30))
def test_digit_reversal_round_trips_every_integer(a, b):
    text = f"{a} + {b}"
    assert reverse_digit_runs(text) == f"{'-' if a < 0 else ''}{str(abs(a))[::-1]} + {str(b)[::-1]}"
    assert reverse_digit_runs(reverse_digit_runs(text)) == text


def test_digit_indices_of_a_hand_example():
    # "12 + 7 * 305 = 96" as the model reads it: "21 + 7 * 503" then the answer "69"; the units digit is 1
    written = reverse_digit_runs("12 + 7 * 305")
    ids = torch.tensor([[BOS] + encode(written) + [SEP] + encode("69") + [EOS]])
    #            BOS 2 1 _ + _ 7 _ * _ 5 0 3 SEP 6 9 EOS
    expected = [0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 0, 1, 2, 0]
    assert digit_positions(ids).tolist() == [expected]


def test_collate_writes_question_and_answer_reversed_with_loss_on_the_answer(tmp_path):
    model = build_model("abacus", make_cfg(tmp_path))
    batch = model.collate([{"id": "a", "text": "12 + 7", "target": "19"},
                           {"id": "b", "text": "100 - 7", "target": "93"}])
    idx, targets = batch["idx"], batch["targets"]
    assert idx[0, : 1 + len("12 + 7") + 1].tolist() == [BOS] + encode("21 + 7") + [SEP]
    assert targets[0][targets[0] != IGNORE].tolist() == encode("91") + [EOS]
    assert targets[1][targets[1] != IGNORE].tolist() == encode("39") + [EOS]
    logits, loss = model(batch)
    assert logits.shape == (*idx.shape, model.lm_head.out_features) and loss.ndim == 0


def test_the_random_offset_is_added_in_training_only(tmp_path):
    model = build_model("abacus", make_cfg(tmp_path, abacus_max_k=7))
    ids = torch.tensor([[BOS] + encode("21 + 7") + [SEP] + encode("91")] * 400)
    plain = digit_positions(ids)
    torch.manual_seed(0)
    model.train()
    shifted = model.positions(ids)
    k = shifted - plain  # (B, T): the offset of each row, on its digits only
    assert bool((k[plain == 0] == 0).all())  # non-digits keep index 0
    per_row = k.max(dim=1).values
    assert bool((k == per_row[:, None] * (plain > 0)).all())  # one offset for every digit of an example
    assert set(per_row.tolist()) == set(range(8))  # uniform on 0..abacus_max_k: all 8 values occur
    model.eval()
    assert torch.equal(model.positions(ids), plain)  # no offset at test
    assert torch.equal(build_model("abacus", make_cfg(tmp_path, abacus_max_k=0)).train().positions(ids), plain)


def test_cached_decoding_equals_the_full_sequence(tmp_path):
    """Greedy decoding feeds one token at a time and continues each digit run from the cache; its logits
    and positions must be those of one forward pass over the whole sequence."""
    model = build_model("abacus", make_cfg(tmp_path)).eval()
    full = torch.tensor([[BOS] + encode("321 + 76")] * 2)  # the prompt stops inside a digit run
    more = torch.tensor([encode("54") + [SEP] + encode("09")] * 2)
    caches = [{} for _ in model.blocks]
    steps = [model.positions(full, caches)] + [model.positions(more[:, t : t + 1], caches) for t in range(5)]
    assert torch.cat(steps, dim=1).tolist() == digit_positions(torch.cat([full, more], dim=1)).tolist()
    ids = torch.tensor([[BOS] + encode("321 + 7654") + [SEP] + encode("0964")])
    with torch.no_grad():
        full_logits = model.lm_head(model.hidden(ids))[0]  # (T, V)
        caches = [{} for _ in model.blocks]
        L = 1 + len("321 + 7654") + 1
        pos = torch.arange(L)[None]
        step_logits = [model.lm_head(model.hidden(ids[:, :L], pos, None, caches))[0, -1]]
        for t in range(L, ids.shape[1]):
            keys = torch.ones(1, 1, 1, t + 1, dtype=torch.bool)  # the new token sees every earlier one
            h = model.hidden(ids[:, t : t + 1], torch.tensor([[t]]), keys, caches)
            step_logits.append(model.lm_head(h)[0, -1])
    torch.testing.assert_close(torch.stack(step_logits), full_logits[L - 1 :], atol=1e-5, rtol=1e-5)


def test_predict_returns_normal_order_and_batches_like_one_at_a_time(tmp_path):
    model = build_model("abacus", make_cfg(tmp_path))
    texts = ["1 + 2", "12 + 7 * 3", "999 - 1", "5"]
    assert model.predict(texts) == [model.predict([t])[0] for t in texts]
    assert model.training  # predict restores the mode it found
    assert build_model("abacus", make_cfg(tmp_path, max_seq_len=8)).predict(["123456 + 654321"]) == [""]


def test_build_is_deterministic(tmp_path):
    a, b = build_model("abacus", make_cfg(tmp_path)), build_model("abacus", make_cfg(tmp_path))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.abacus.num_embeddings == 40 + 100 + 1  # index 0, runs up to max_seq_len, offsets up to abacus_max_k
    assert bool((a.rope_cos == 1).all() and (a.rope_sin == 0).all())  # no positions in attention (NoPE)


def test_abacus_max_k_is_checked_and_only_in_the_abacus_fingerprint(tmp_path):
    base = load_config(SMALL)
    other = load_config(SMALL, {"model.abacus_max_k": 20})
    changed = {m for m in ("token_only", "xval", "hybrid", "abacus", "fone")
               if fingerprint(other, m) != fingerprint(base, m)}
    assert changed == {"abacus"}
    with pytest.raises(Exception, match="model.abacus_max_k"):
        make_cfg(tmp_path, abacus_max_k=-1)


def test_train_and_eval_scripts_give_an_abacus_column(tmp_path, capsys):
    base = script_args(TINY, tmp_path)
    assert generate_data.main(base) == 0
    assert train_abacus.main(base + ["--epochs", "1"]) == 0
    assert eval_script.main(base + ["--models", "abacus"]) == 0
    out = capsys.readouterr().out
    assert "Abacus" in out.split("=== Arithmetic Evaluation ===")[1].splitlines()[2]
    assert (tmp_path / "results" / "predictions" / "abacus" / "test_id.jsonl").is_file()


def balanced_pairs(n: int, max_digits: int, rng: random.Random) -> list[tuple[int, int]]:
    """n distinct pairs whose operands have 1..max_digits digits, each length equally likely (the paper's
    bucket sampling of operand lengths)."""
    def number() -> int:
        d = rng.randint(1, max_digits)
        return rng.randint(0 if d == 1 else 10 ** (d - 1), 10**d - 1)
    pairs: set = set()
    while len(pairs) < n:
        pairs.add((number(), number()))
    out = sorted(pairs)
    rng.shuffle(out)
    return out


@pytest.mark.slow  # about 2 minutes on an idle 2-core CPU (one thread), 5 under load
def test_fairness_abacus_on_the_papers_length_generalization_setting(tmp_path):
    """The paper's setting, CPU-sized: trained on sums of operands with 1-6 digits (each length equally
    likely), the model must be exact in distribution (asserted), and the paper's claim is that it then adds
    longer operands (7 and 8 digits here). At this size it does not (module docstring, "Length
    generalization at this scale"): the test then ends as an expected failure that states the measured rates,
    and passes outright if a change makes the longer sums >= 90% right."""
    rng = random.Random(0)
    pairs = balanced_pairs(20400, 6, rng)
    records = [arithmetic_record("fair", i, [a, b], ["+"]) for i, (a, b) in enumerate(pairs)]
    write_jsonl(tmp_path / "data" / "train.jsonl", records[:20000])
    write_jsonl(tmp_path / "data" / "val.jsonl", records[20000:20200])  # model selection
    write_manifest(tmp_path / "data", "arithmetic")
    cfg = config_from_dict({
        "task": "arithmetic", "seed": 0, "device": "cpu",
        "model": {"hidden_dim": 64, "num_layers": 2, "num_heads": 4, "dropout": 0.0, "max_seq_len": 48,
                  "abacus_max_k": 20},
        "training": {"epochs": 16, "batch_size": 64, "learning_rate": 1e-3, "warmup_steps": 200,
                     "weight_decay": 0.1, "eval_every": 4},
        "paths": {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results")},
    })
    train("abacus", cfg)
    tensors, _ = load_checkpoint(tmp_path / "results" / "abacus" / "best", cfg, "")
    model = build_model("abacus", cfg)
    model.load_state_dict(tensors["model"])
    test = records[20200:]  # never seen
    in_dist = sum(p == r["target"] for p, r in zip(model.predict([r["text"] for r in test]), test)) / len(test)
    assert in_dist >= 0.99, in_dist
    longer = {}
    for digits in (7, 8):
        sums = [(rng.randint(10 ** (digits - 1), 10**digits - 1), rng.randint(10 ** (digits - 1), 10**digits - 1))
                for _ in range(200)]
        predictions = model.predict([f"{a} + {b}" for a, b in sums])
        longer[digits] = sum(p == str(a + b) for p, (a, b) in zip(predictions, sums)) / len(sums)
    if min(longer.values()) < 0.9:
        pytest.xfail(f"in distribution {in_dist:.1%}; exact on 7-digit operands {longer[7]:.1%}, on 8-digit "
                     f"{longer[8]:.1%}: the paper's length generalization needs more than this CPU budget")


def test_abacus_doctests():
    import doctest
    result = doctest.testmod(abacus)
    assert result.failed == 0 and result.attempted > 0
