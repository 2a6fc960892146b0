"""ask.py: the trained models' answers to questions given on the command line, checked against eval.py's
predictions of the same checkpoints."""

from __future__ import annotations

import re

import pytest
from conftest import script_args

import ask
import eval as eval_script
import generate_data
import train_hybrid
import train_token_only
from fxlab import data
from fxlab.config import REPO_ROOT

TINY = REPO_ROOT / "experiments" / "configs" / "arithmetic_tiny.yaml"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """generate -> train token_only and hybrid (2 epochs) -> eval, through the scripts' main()."""
    root = tmp_path_factory.mktemp("ask")
    base = script_args(TINY, root)
    assert generate_data.main(base) == 0
    assert train_token_only.main(base) == 0
    assert train_hybrid.main(base) == 0
    assert eval_script.main(base + ["--models", "token_only,hybrid"]) == 0
    return root, base


def answers(out: str) -> dict[str, dict[str, str]]:
    """{question: {model: answer}} of ask.py's stdout (a question line, then `  model: answer` lines)."""
    parsed: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        if line.startswith("  "):
            model, _, answer = line.strip().partition(": ")
            parsed[question][model] = answer
        else:
            question = line
            parsed[question] = {}
    return parsed


def evaluated(root, model: str, n: int) -> dict[str, str]:
    """{text: what eval.py predicted} for the first n test_id records."""
    rows = data.read_jsonl(root / "results" / "predictions" / model / "test_id.jsonl")[:n]
    return {r["text"]: r["prediction"] or ask.NO_ANSWER for r in rows}


def test_ask_gives_every_trained_models_answer_as_eval_does(trained, capsys):
    root, base = trained
    token, hybrid = evaluated(root, "token_only", 4), evaluated(root, "hybrid", 4)
    capsys.readouterr()
    assert ask.main(base + list(token)) == 0
    out, err = capsys.readouterr()
    got = answers(out)
    assert list(got) == list(token)  # each question once, in the order given
    for text in token:
        assert got[text] == {"token_only": token[text], "hybrid": hybrid[text]}  # no xval: it was not trained
        assert list(got[text]) == ["token_only", "hybrid"]  # the results table's order
    assert "[hybrid] loaded best.pt" in err and "loaded" not in out


def test_ask_models_flag_chooses_and_free_text_is_answered(trained, capsys):
    root, base = trained
    text = next(iter(evaluated(root, "hybrid", 1)))
    question = f"What is {text}?"
    capsys.readouterr()
    assert ask.main(base + ["--models", "hybrid", question]) == 0
    got = answers(capsys.readouterr().out)
    assert list(got) == [question] and list(got[question]) == ["hybrid"] and got[question]["hybrid"]


@pytest.mark.parametrize("extra, expected", [
    (["--models", "xval", "1 + 1"], "no checkpoint at .*xval.best.pt; run train_xval.py --config .* first"),
    (["--models", "bert", "1 + 1"], "--models takes a comma-separated subset of"),
    (["1 + 1", " "], "question 2 is empty; give the text to ask"),
])
def test_ask_errors_are_one_line(trained, capsys, extra, expected):
    _, base = trained
    with pytest.raises(SystemExit) as e:
        ask.main(base + extra)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and err.startswith("ask.py: error: "), err
    assert re.search(expected, err), err
    assert out == ""


def test_ask_without_trained_models_says_to_train_first(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        ask.main(script_args(TINY, tmp_path) + ["1 + 1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"no trained model in {tmp_path / 'results'}; train first: bash experiments/scripts/" \
           "run_all_experiments.sh" in err
