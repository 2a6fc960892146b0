"""The scripts' thread default (fxlab.train.threads)."""

from __future__ import annotations

import doctest
import os

import pytest

torch = pytest.importorskip("torch")

from fxlab import UserError  # noqa: E402
from fxlab.train import threads  # noqa: E402


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


def test_doctests():
    assert doctest.testmod(threads).failed == 0
