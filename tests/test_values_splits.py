"""fxlab/tasks/values_splits.py and make_values_splits.py: magnitude-scaled and close-value test splits of
mathematics_dataset's comparison modules, checked against Fraction references computed here (independently
of the module's own `solve`) and against the generator's templates, copied here from comparison.py."""

from __future__ import annotations

import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fxlab.tasks import values_splits as V

SAMPLE = Path(__file__).resolve().parents[1] / "experiments" / "mathds_sample"
NUM = r"-?\d+(?:\.\d+)?(?:/\d+)?"

# modules/comparison.py (mathematics_dataset 1.0.1), verbatim; {values} "x, y", {choices} "  (a) x  (b) y".
GENERATOR_TEMPLATES = {
    "pair": ["Which is bigger: {left} or {right}?", "Which is greater: {left} or {right}?",
             "Which is smaller: {left} or {right}?",
             "Is {left} < {right}?", "Is {left} less than {right}?", "Is {left} smaller than {right}?",
             "Is {left} <= {right}?", "Is {left} less than or equal to {right}?", "Is {left} at most {right}?",
             "Is {left} at most as big as {right}?",
             "Is {left} > {right}?", "Is {left} greater than {right}?", "Is {left} bigger than {right}?",
             "Is {left} >= {right}?", "Is {left} greater than or equal to {right}?", "Is {left} at least {right}?",
             "Is {left} at least as big as {right}?",
             "Does {left} = {right}?", "Are {left} and {right} equal?", "Is {left} equal to {right}?",
             "Do {left} and {right} have the same value?",
             "Is {left} != {right}?", "Is {left} not equal to {right}?", "Are {left} and {right} unequal?",
             "Are {left} and {right} nonequal?", "Are {left} and {right} non-equal?",
             "Do {left} and {right} have different values?"],
    "kth_biggest": ["What is the {adjective} value in {values}?", "Which is the {adjective} value?{choices}"],
    "closest": ["What is the {adjective} to {target} in {values}?",
                "Which is the {adjective} to {target}?{choices}"],
    "sort": ["Sort {values} in {direction} order.", "Put {values} in {direction} order.", "Sort {values}."],
}
ORDINALS = ["second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
FIELDS = {"left": f"(?P<left>{NUM})", "right": f"(?P<right>{NUM})", "target": f"(?P<target>{NUM})",
          "values": f"(?P<values>{NUM}(?:, {NUM})*)",
          "choices": rf"(?P<choices>(?:  \([a-z]\) {NUM})+)",
          "adjective": rf"(?P<adjective>(?:(?:{'|'.join(ORDINALS)}) )?(?:biggest|smallest|closest|nearest))",
          "direction": "(?P<direction>ascending|increasing|descending|decreasing)"}


def template_match(module: str, question: str):
    """(template, match) of the generator's template that `question` fills, else (None, None)."""
    for template in GENERATOR_TEMPLATES[module]:
        pattern = re.escape(template)
        for name, sub in FIELDS.items():
            pattern = pattern.replace(re.escape("{" + name + "}"), sub)
        m = re.fullmatch(pattern, question)
        if m:
            return template, m
    return None, None


def reference_answer(module: str, question: str) -> str:
    """The answer recomputed with Fractions from the matched template's fields."""
    template, m = template_match(module, question)
    assert m, f"{question!r} fills no {module} template"
    fields = m.groupdict()
    if fields.get("choices"):
        pairs = re.findall(rf"\(([a-z])\) ({NUM})", fields["choices"])
        assert [label for label, _ in pairs] == [chr(97 + i) for i in range(len(pairs))]
        names, texts = [label for label, _ in pairs], [text for _, text in pairs]
    elif fields.get("values"):
        texts = fields["values"].split(", ")
        names = texts
    if module == "pair":
        a, b = Fraction(fields["left"]), Fraction(fields["right"])
        if template.startswith("Which"):
            assert a != b
            return fields["left"] if (a > b) == ("smaller" not in template) else fields["right"]
        relation = {"<": "<", "less than": "<", "smaller than": "<", "<=": "<=", "less than or equal": "<=",
                    "at most": "<=", ">": ">", "greater than": ">", "bigger than": ">", ">=": ">=",
                    "greater than or equal": ">=", "at least": ">=", "=": "==", "equal": "==",
                    "same value": "==", "!=": "!=", "not equal": "!=", "unequal": "!=", "nonequal": "!=",
                    "non-equal": "!=", "different": "!="}
        word = max((w for w in relation if f" {w} " in f" {template} ".replace("?", " ")), key=len)
        return str({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[relation[word]])
    values = [Fraction(t) for t in texts]
    assert len(set(values)) == len(values)
    if module == "sort":
        ascending = fields.get("direction") in (None, "ascending", "increasing")
        return ", ".join(sorted(texts, key=Fraction, reverse=not ascending))
    if module == "closest":
        target = Fraction(fields["target"])
        distances = [abs(v - target) for v in values]
        assert len(set(distances)) == len(distances)
        return names[distances.index(min(distances))]
    words = fields["adjective"].split()
    kth = 1 if len(words) == 1 else ORDINALS.index(words[0]) + 2
    ranked = sorted(values, reverse=words[-1] == "biggest")
    return names[values.index(ranked[kth - 1])]


def sample_problems(module: str) -> list[tuple[str, str]]:
    lines = (SAMPLE / "interpolate" / f"comparison__{module}.txt").read_text().splitlines()
    return list(zip(lines[::2], lines[1::2]))


# ---- scaling ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,k,expected", [
    ("3", -6, "0.000003"), ("0.055", 6, "55000"), ("-0.055", -2, "-0.00055"), ("-94", 3, "-94000"),
    ("-2/51", 2, "-200/51"), ("2/5", 1, "4"), ("3/40", -1, "3/400"), ("-2/9", 0, "-2/9"), ("0", 7, "0"),
    ("120", -1, "12"), ("1.5", -12, "0.0000000000015")])
def test_scale_literal_keeps_the_generator_style(text, k, expected):
    assert V.scale_literal(text, k) == expected


@pytest.mark.parametrize("module", V.MODULES)
def test_sample_round_trip(module):
    """Every committed sample problem scales without error; k = 0 gives back the exact text."""
    for question, answer in sample_problems(module):
        assert V.scale_problem(question, answer, 0) == (question, answer)
        for k in (-12, -6, 6, 12):
            new_q, new_a = V.scale_problem(question, answer, k)
            assert reference_answer(module, new_q) == new_a
            if answer in ("True", "False") or re.fullmatch("[a-z]", answer):
                assert new_a == answer
            else:
                assert [Fraction(x) for x in new_a.split(", ")] == \
                    [Fraction(x) * Fraction(10) ** k for x in answer.split(", ")]
            old, new = re.findall(NUM, question), re.findall(NUM, new_q)
            assert [Fraction(n) for n in new] == [Fraction(o) * Fraction(10) ** k for o in old]


def test_scale_problem_examples():
    assert V.scale_problem("Which is smaller: -2/9 or -0.22?", "-2/9", 6) == \
        ("Which is smaller: -2000000/9 or -220000?", "-2000000/9")
    assert V.scale_problem("Is -0.3 at most 2/11?", "True", -7) == ("Is -0.00000003 at most 1/55000000?", "True")
    assert V.scale_problem("Which is the third smallest value?  (a) -2/7  (b) -0.055  (c) 3", "c", 6) == \
        ("Which is the third smallest value?  (a) -2000000/7  (b) -55000  (c) 3000000", "c")
    assert V.scale_problem("Sort -0.3, 2/11, 1906120 in decreasing order.", "1906120, 2/11, -0.3", -6) == \
        ("Sort -0.0000003, 1/5500000, 1.90612 in decreasing order.", "1.90612, 1/5500000, -0.0000003")


def test_scale_problem_refuses_an_inconsistent_answer():
    with pytest.raises(AssertionError):
        V.scale_problem("Sort 1, 3, 2.", "1, 3, 2", 6)


literals = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.builds(lambda n, d: V.decimal_text(Fraction(n, 10**d)), st.integers(-10**6, 10**6), st.integers(1, 6)),
    st.builds(lambda n, d: V.fraction_text(Fraction(n, d)), st.integers(-10**4, 10**4), st.integers(2, 500)))


@settings(max_examples=150, deadline=None)
@given(st.lists(literals, min_size=3, max_size=8, unique_by=Fraction), st.integers(-12, 12), st.randoms())
def test_scaling_random_questions(texts, k, rng):
    """Random questions of every module, answered by the reference, scale to answers that the reference
    gives for the scaled question; letters and truth values stay."""
    left, right = texts[:2]
    choices = "".join(f"  ({chr(97 + i)}) {t}" for i, t in enumerate(texts[1:]))
    questions = {
        "pair": [f"Which is smaller: {left} or {right}?", f"Is {left} at least as big as {right}?"],
        "sort": [f"Put {', '.join(texts)} in descending order.", f"Sort {', '.join(texts)}."],
        "kth_biggest": [f"What is the third smallest value in {', '.join(texts)}?",
                        f"Which is the biggest value?{choices}"],
        "closest": [f"What is the closest to {texts[0]} in {', '.join(texts[1:])}?",
                    f"Which is the nearest to {texts[0]}?{choices}"],
    }
    for module, qs in questions.items():
        for question in qs:
            try:
                answer = reference_answer(module, question)
            except AssertionError:  # equal distances in closest: the generator never asks it
                continue
            new_q, new_a = V.scale_problem(question, answer, k)
            assert reference_answer(module, new_q) == new_a
            if not re.search(r"\d", answer) or answer in ("True", "False"):
                assert new_a == answer
            else:
                assert [Fraction(x) for x in new_a.split(", ")] == \
                    [Fraction(x) * Fraction(10) ** k for x in answer.split(", ")]
            back_q, _ = V.scale_problem(new_q, new_a, -k)  # a fraction that became an integer comes back decimal
            assert [Fraction(t) for t in re.findall(NUM, back_q)] == [Fraction(t) for t in re.findall(NUM, question)]


# ---- close problems -----------------------------------------------------------------------------------

@pytest.mark.parametrize("module", V.MODULES)
def test_close_problems_are_right_and_close(module):
    rng = random.Random(7)
    templates, sizes = set(), set()
    for _ in range(400):
        question, answer = V.close_problem(module, rng)
        template, m = template_match(module, question)
        assert m, question
        templates.add(template)
        assert reference_answer(module, question) == answer, question
        values = [Fraction(t) for t in re.findall(NUM, question)]
        assert len(set(values)) == len(values), question
        if module == "closest":
            distances = sorted(abs(v - values[0]) for v in values[1:])
            gap = (distances[1] - distances[0]) / distances[1]
            sizes.add(len(values) - 1)
        else:
            ordered = sorted(values)
            gaps = [(b - a) / max(abs(a), abs(b)) for a, b in zip(ordered, ordered[1:])]
            assert max(gaps) < Fraction(1, 100), question  # every neighbour pair
            gap = min(gaps)
            sizes.add(len(values))
        assert 0 < gap < Fraction(1, 100), question
        assert V.relative_gap(question) == pytest.approx(float(gap)), question
        assert not re.search(r"\de[-+]?\d", question)  # no exponent notation
    assert templates == set(GENERATOR_TEMPLATES[module])  # every template is drawn
    assert sizes == {"pair": {2}, "closest": set(range(3, 7))}.get(module, set(range(3, 9)))


def test_close_problems_mix_styles_and_signs():
    rng = random.Random(3)
    texts = [t for m in V.MODULES for _ in range(100) for t in re.findall(NUM, V.close_problem(m, rng)[0])]
    assert any("/" in t for t in texts) and any("." in t for t in texts)
    assert any(re.fullmatch(r"-?\d+", t) for t in texts)
    assert any(t.startswith("-") for t in texts) and any(not t.startswith("-") for t in texts)


def test_close_problem_is_seeded():
    def problems(seed):
        rng = random.Random(seed)
        return [V.close_problem(m, rng) for m in V.MODULES for _ in range(50)]
    assert problems(5) == problems(5) != problems(6)


def test_close_problem_unknown_module():
    with pytest.raises(ValueError, match="unknown comparison module"):
        V.close_problem("pairs", random.Random(0))


def test_relative_gap():
    assert V.relative_gap("Which is bigger: 100 or 99?") == pytest.approx(0.01)
    assert V.relative_gap("Which is the third biggest value?  (a) -2/7  (b) -0.055  (c) 3") == \
        pytest.approx(float((Fraction(2, 7) - Fraction(55, 1000)) / Fraction(2, 7)))
    assert V.relative_gap("Are 3 and 3 equal?") == 0.0
    assert V.relative_gap("What is the closest to 0 in 10, -10.05, 3000?") == pytest.approx(0.05 / 10.05)


# ---- the script --------------------------------------------------------------------------------------

def test_script_writes_the_splits_deterministically(tmp_path, capsys):
    import make_values_splits as S

    source = tmp_path / "src"
    (source / "interpolate").mkdir(parents=True)
    for m in V.MODULES:
        lines = (SAMPLE / "interpolate" / f"comparison__{m}.txt").read_text().splitlines()[:40]
        (source / "interpolate" / f"comparison__{m}.txt").write_text("\n".join(lines) + "\n")
    for out in ("a", "b"):
        assert S.main(["--source", str(source), "--out", str(tmp_path / out), "--seed", "3"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(f"comparison__{m}_{s}.txt" for m in V.MODULES for s in ("mag_up", "mag_down", "close"))
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for m in V.MODULES:
        up = (tmp_path / "a" / f"comparison__{m}_mag_up.txt").read_text().splitlines()
        assert len(up) == 40
        for question, answer in zip(up[::2], up[1::2]):
            assert reference_answer(m, question) == answer
        assert len((tmp_path / "a" / f"comparison__{m}_close.txt").read_text().splitlines()) == 40
    with pytest.raises(SystemExit) as e:
        S.main(["--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")])
    assert e.value.code == 2 and "missing interpolate/comparison__pair.txt" in capsys.readouterr().err
