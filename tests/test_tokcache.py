"""Tokenize once (fxlab.tokcache) and the scripts' thread default (fxlab.threads).

The references: `fxlab.hybrid.tokenize` called afresh (the cache must give the same bytes), and a
training run with the cache switched off (the cached runs must give bit-identical weights).
"""

from __future__ import annotations

import doctest
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fxlab import UserError, threads, tokcache  # noqa: E402
from fxlab.config import config_from_dict  # noqa: E402
from fxlab.data import generate, write_dataset  # noqa: E402
from fxlab.hybrid import VOCABULARY, tokenize  # noqa: E402
from fxlab.loop import train  # noqa: E402
from fxlab.models import build_model  # noqa: E402
from fxlab.tokcache import TokenCache  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [
    "12 + 7 * 3", "0", "no numbers here", "convert 3.5 km to m", "can you add 3 kg and 20 lb?",
    "12 m / 3 s", "5 m/s * 3 s", "123456789 * 987654321 - 5", "naïve café 1,500,000 €",
]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"r{i}", "text": t, "target": "0"}, ensure_ascii=False) for i, t in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_same_item(got: tuple, text: str) -> None:
    ids, types, vectors, slots, spans = tokenize(text)
    assert list(got[0]) == list(ids) and list(got[1]) == list(types)
    assert got[2].dtype == vectors.dtype == np.float64 and got[2].shape == vectors.shape
    assert got[2].tobytes() == vectors.tobytes()  # bit for bit, exact channels included
    assert list(got[3]) == slots and all(type(i) is int for i in got[3])


def test_memory_cache_matches_tokenize():
    cache = TokenCache(tokenize, VOCABULARY)
    for _ in range(2):  # first call tokenizes, second reads memory
        for text, item in zip(TEXTS, cache.items(TEXTS, need_spans=True)):
            assert_same_item(item, text)
            assert item[4] == tokenize(text)[4]
    assert set(cache.memory) == set(TEXTS)


def test_disk_cache_round_trip_and_name(tmp_path, monkeypatch):
    jsonl = write_jsonl(tmp_path / "data" / "train.jsonl", TEXTS + TEXTS[:2])  # duplicates stored once
    path = TokenCache(tokenize, VOCABULARY).load_split("train", jsonl)
    sha = hashlib.sha256(jsonl.read_bytes()).hexdigest()
    assert path.parent == tmp_path / "data" / "tokenized"
    assert path.name.startswith(f"train.{sha[:16]}.v{tokcache.TOKENIZER_VERSION}-") and path.suffix == ".npz"
    assert not list(path.parent.glob(".*.tmp"))
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickled objects
        assert z["slot_vectors"].dtype == np.float64 and len(z["text_offsets"]) == len(TEXTS) + 1

    def no_tokenize(text):
        raise AssertionError(f"tokenized {text!r} although the cache file holds it")

    warm = TokenCache(no_tokenize, VOCABULARY)
    code = tokcache.tokenizer_code_hash(tokenize, VOCABULARY)
    monkeypatch.setattr(tokcache, "tokenizer_code_hash", lambda *args: code)  # no_tokenize stands in for it
    assert warm.load_split("train", jsonl) == path
    for text, item in zip(TEXTS, warm.items(TEXTS)):
        assert_same_item(item, text)
        assert item[4] is None  # training batches need no span objects


def test_stale_cache_is_never_used(tmp_path):
    jsonl = write_jsonl(tmp_path / "train.jsonl", TEXTS[:3])
    first = TokenCache(tokenize, VOCABULARY).load_split("train", jsonl)
    # Another tokenizer (here: another vocabulary) gets a new file; the old one is removed.
    other = TokenCache(tokenize, VOCABULARY + " changed").load_split("train", jsonl)
    assert other != first and other.is_file() and not first.exists()
    # Changed data: a new sha in the name, and the tokens of the new texts.
    write_jsonl(jsonl, ["7 * 6"])
    cache = TokenCache(tokenize, VOCABULARY)
    third = cache.load_split("train", jsonl)
    assert third not in (first, other) and list(cache.memory) == ["7 * 6"]
    code = tokcache.tokenizer_code_hash(tokenize, VOCABULARY)
    assert third == tokcache.cache_path(tmp_path, "train", hashlib.sha256(jsonl.read_bytes()).hexdigest(), code)
    # A file whose stored key does not match (copied or renamed) is refused; load_split then rebuilds it.
    with pytest.raises(ValueError, match="other data or another tokenizer"):
        tokcache.from_npz(third, "0" * 64, tokcache.tokenizer_code_hash(tokenize, VOCABULARY))


def test_switch_off_and_unwritable_folder(tmp_path, monkeypatch, capsys):
    jsonl = write_jsonl(tmp_path / "a" / "val.jsonl", TEXTS[:2])
    monkeypatch.setenv("FLUXEM_TOKEN_CACHE", "0")
    assert TokenCache(tokenize, VOCABULARY).load_split("val", jsonl) is None
    assert not (tmp_path / "a" / "tokenized").exists()
    monkeypatch.delenv("FLUXEM_TOKEN_CACHE")
    (tmp_path / "a" / "tokenized").write_text("a file in the way")
    cache = TokenCache(tokenize, VOCABULARY)
    assert cache.load_split("val", jsonl) is None
    assert "keeping it in memory" in capsys.readouterr().err
    assert_same_item(cache.items([TEXTS[0]])[0], TEXTS[0])


def tiny_config(tmp: Path):
    return config_from_dict({
        "task": "arithmetic", "seed": 5, "device": "cpu",
        "data": {"train_size": 96, "val_size": 16, "test_size": 16, "id_range": [0, 99], "id_ops": [1, 3],
                 "ood_magnitude_range": [10**6, 10**9], "ood_ops": [5, 6], "ood_max_ops": 6,
                 "operations": ["+", "-", "*"]},
        "model": {"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "dropout": 0.1, "attn_window": 2},
        "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.003, "warmup_steps": 4},
        "paths": {"data_dir": str(tmp / "data"), "results_dir": str(tmp / "results")},
    })


def trained_weights(cfg) -> dict:
    train("hybrid", cfg)
    return torch.load(cfg.results_path / "hybrid" / "last.pt", weights_only=True)["model"]


def test_training_is_bit_identical_with_and_without_the_cache(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path)
    write_dataset(cfg, generate(cfg), cfg.data_path)
    monkeypatch.setattr(TokenCache, "enabled", False)  # tokenize every record every epoch, as before
    reference = trained_weights(cfg)
    assert not (cfg.data_path / "tokenized").exists()
    monkeypatch.setattr(TokenCache, "enabled", True)
    cold = trained_weights(cfg)  # writes the cache files
    files = sorted(p.name.split(".")[0] for p in (cfg.data_path / "tokenized").glob("*.npz"))
    assert files == ["train", "val"]
    warm = trained_weights(cfg)  # reads them
    for name, tensor in reference.items():
        assert torch.equal(tensor, cold[name]) and torch.equal(tensor, warm[name]), name


def test_predict_after_disk_load_tokenizes_from_text(tmp_path):
    cfg = tiny_config(tmp_path)
    write_dataset(cfg, generate(cfg), cfg.data_path)
    TokenCache(tokenize, VOCABULARY).load_split("train", cfg.data_path / "train.jsonl")  # cache file on disk
    model = build_model("hybrid", cfg)
    records = [json.loads(line) for line in (cfg.data_path / "train.jsonl").read_text().splitlines()[:8]]
    model.collate(records)  # loads the files: tokens without spans
    texts = [r["text"] for r in records]
    assert all(model.token_cache.memory[t].spans is None for t in texts)
    fresh = build_model("hybrid", cfg)
    fresh.token_cache.enabled = False
    assert model.predict(texts) == fresh.predict(texts)
    assert all(model.token_cache.memory[t].spans is not None for t in texts)


def test_eval_does_not_tokenize_the_training_split(tmp_path):
    cfg = tiny_config(tmp_path)
    write_dataset(cfg, generate(cfg), cfg.data_path)
    model = build_model("hybrid", cfg)
    model.predict(["1 + 2"])
    assert list(model.token_cache.memory) == ["1 + 2"] and not (cfg.data_path / "tokenized").exists()


# ----------------------------------------------------------------------------- threads


def test_thread_default_and_overrides(monkeypatch):
    assert threads.requested_threads({}) == (1, "default")
    assert threads.requested_threads({"OMP_NUM_THREADS": "3"}) == (3, "OMP_NUM_THREADS")
    assert threads.requested_threads({"FLUXEM_THREADS": "2", "OMP_NUM_THREADS": "3"}) == (2, "FLUXEM_THREADS")
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(UserError, match="FLUXEM_THREADS=.* whole number >= 1"):
            threads.requested_threads({"FLUXEM_THREADS": bad})
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("FLUXEM_THREADS", "2")
        assert threads.setup_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv("FLUXEM_THREADS")
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert threads.setup_threads() == 1 and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_bad_thread_setting_is_one_line_exit_2(monkeypatch, capsys):
    from fxlab.cli import run_main

    monkeypatch.setenv("FLUXEM_THREADS", "lots")
    with pytest.raises(SystemExit) as e:
        run_main("prog", lambda argv: 0, [])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FLUXEM_THREADS='lots'" in err


@pytest.mark.parametrize("module", [tokcache, threads])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0
