"""Readouts of the hybrid model, behind the `model.readout` switch.

- `AlgebraicReadout`: per-slot role logits + per-example answer-type logits. `answers` hands the argmax
  roles to `execute`, which applies FluxEM operators to the span vectors. This is the only place where
  answers are computed, and it reads the network's roles, never the text.
- `RegressionReadout`: the ablation; regresses sign and log10(1 + |answer|) from the pooled encoding.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
import fluxem.units
from fluxem.units import canonical_si_unit
from fxlab import UserError

ROLES = ("+", "-", "*", "/", "to", "cmp", "none")
# "+" / "-": starts a new term with that sign; "*" / "/": multiplies / divides into the current term;
# "to": the target unit of a conversion; "cmp": an operand of the dimension comparison (can_add);
# "none": a span that takes no part in the answer.
ROLE_ID = {r: i for i, r in enumerate(ROLES)}
ANSWER_TYPES = ("number", "quantity", "boolean")
IGNORE = -100

_numbers = fluxem.NumberEncoder()
_quantities = fluxem.QuantityEncoder()


def _pool(h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    keep = (~pad).unsqueeze(-1).to(h.dtype)  # (B, T, 1)
    return (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)  # (B, C)


class AlgebraicReadout(nn.Module):
    def __init__(self, hidden_dim: int):
        super().__init__()
        self.role_head = nn.Linear(hidden_dim, len(ROLES))
        self.type_head = nn.Linear(hidden_dim, len(ANSWER_TYPES))

    def forward(self, h: torch.Tensor, batch: dict) -> dict:
        return {"role_logits": self.role_head(h), "type_logits": self.type_head(_pool(h, batch["pad"]))}

    def targets(self, records: list[dict], items: list[tuple], T: int, task: str) -> dict:
        """Role labels at slot positions (IGNORE elsewhere) and answer-type labels, from the records."""
        roles = torch.full((len(records), T), IGNORE, dtype=torch.long)  # (B, T)
        types = torch.zeros(len(records), dtype=torch.long)  # (B,)
        for b, (record, item) in enumerate(zip(records, items)):
            slot_index = item[3]
            labels = record.get("roles") or []
            if len(labels) != len(slot_index):
                raise UserError(
                    f"record {record.get('id')}: detect_spans found {len(slot_index)} spans in {record['text']!r} "
                    f"but the record has {len(labels)} roles; regenerate the data with generate_data.py"
                )
            for pos, label in zip(slot_index, labels):
                roles[b, pos] = ROLE_ID[label]
            types[b] = ANSWER_TYPES.index(record.get("answer_type", "number"))
        return {"role_targets": roles, "type_targets": types}

    def loss(self, outputs: dict, batch: dict) -> torch.Tensor:
        logits = outputs["role_logits"]  # (B, T, R)
        role_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["role_targets"].reshape(-1),
                                    ignore_index=IGNORE)
        return role_loss + F.cross_entropy(outputs["type_logits"], batch["type_targets"])

    def roles(self, outputs: dict, items: list[tuple]) -> list[list[str]]:
        pred = outputs["role_logits"].argmax(-1).cpu()  # (B, T)
        return [[ROLES[int(pred[b, pos])] for pos in item[3]] for b, item in enumerate(items)]

    def answers(self, outputs: dict, items: list[tuple], task: str) -> list[str]:
        kinds = outputs["type_logits"].argmax(-1).tolist()  # (B,)
        return [
            execute(roles, item[2][item[3]], item[4], ANSWER_TYPES[kind])
            for roles, item, kind in zip(self.roles(outputs, items), items, kinds)
        ]


# ----------------------------------------------------------------------------- the executor


def execute(roles: list[str], vectors: np.ndarray, spans: list, answer_type: str) -> str:
    """Apply FluxEM algebra to span vectors (S, 128) in the order and roles the network chose.

    Returns the canonical answer string, or "" when the roles do not describe a computable answer
    (e.g. a "*" with nothing to multiply, or a conversion between different dimensions).

    >>> from fxlab.hybrid import tokenize
    >>> _, _, vecs, slots, spans = tokenize("12 + 7 * 3")
    >>> execute(["+", "+", "*"], vecs[slots], spans, "number")
    '33'
    """
    try:
        if answer_type == "boolean":
            return _execute_compare(roles, vectors)
        if "to" in roles:
            return _execute_convert(roles, vectors, spans)
        return _execute_terms(roles, vectors, answer_type, spans)
    except (ValueError, ZeroDivisionError):
        return ""


def _execute_compare(roles, vectors) -> str:
    operands = [v for r, v in zip(roles, vectors) if r == "cmp"]
    if len(operands) != 2:
        return ""
    return "true" if _quantities.can_add(operands[0], operands[1]) else "false"


def _execute_convert(roles, vectors, spans) -> str:
    sources = [v for r, v in zip(roles, vectors) if r == "+"]
    targets = [s for r, s in zip(roles, spans) if r == "to"]
    if len(sources) != 1 or len(targets) != 1 or targets[0].unit is None:
        return ""
    source = next(s for r, s in zip(roles, spans) if r == "+")
    if source.kind == "quantity" and source.exact is not None:
        # An exact literal times exact unit factors (offsets included) is exact, so format_value rounds
        # the true value (no float tie-breaking misses such as 0.391325 in -> 9.939655 mm).
        value = fluxem.units.convert_exact(source.exact, source.unit, targets[0].unit)
    else:
        value = _quantities.convert(sources[0], targets[0].unit)
    return f"{fluxem.format_value(value)} {targets[0].unit}"


def _exact_si(span):
    """The exact SI value of a number or quantity span (None if the span has no exact value)."""
    if span is None or span.exact is None:
        return None
    return fluxem.units.to_si_exact(span.exact, span.unit) if span.kind == "quantity" else Fraction(span.exact)


def _execute_terms(roles, vectors, answer_type, spans=None) -> str:
    """Sum of signed products: '+'/'-' open a term, '*'/'/' fold into it (standard precedence)."""
    quantity = answer_type == "quantity"
    ops = _quantities if quantity else _numbers
    spans = spans if spans is not None else [None] * len(roles)
    terms: list[list] = []  # [sign, embedding, exact SI value or None]
    for role, v, span in zip(roles, vectors, spans):
        x = _exact_si(span) if quantity else None
        if role in ("+", "-"):
            terms.append([role, v, x])
        elif role in ("*", "/") and terms:
            t = terms[-1]
            t[1] = ops.mul(t[1], v) if role == "*" else ops.div(t[1], v)
            t[2] = None if t[2] is None or x is None else (t[2] * x if role == "*" else t[2] / x)
        elif role != "none":
            return ""
    if not terms:
        return ""
    if quantity:
        return _quantity_answer(terms)
    total = _numbers.encode(0)
    for sign, v, _ in terms:
        total = _numbers.add(total, v) if sign == "+" else _numbers.sub(total, v)
    if _numbers.is_exact(total):
        return str(_numbers.decode_int(total))
    return fluxem.format_value(_numbers.decode(total))


def _quantity_answer(terms) -> str:
    if len(terms) != 1 or terms[0][0] != "+":
        return ""  # sums of quantities are not part of the units task
    _, v, exact = terms[0]
    unit = canonical_si_unit(_quantities.dimensions(v))
    # The canonical SI unit has factor 1 and no offset, so the exact SI value is the answer's value.
    value = exact if exact is not None else (_quantities.si_value(v) if not unit else _quantities.convert(v, unit))
    return f"{fluxem.format_value(value)} {unit}" if unit else fluxem.format_value(value)


# ----------------------------------------------------------------------------- ablation


class RegressionReadout(nn.Module):
    """Learned regression of the answer: sign logit + log10(1 + |y|) from the pooled encoding."""

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.head = nn.Linear(hidden_dim, 2)

    def forward(self, h: torch.Tensor, batch: dict) -> dict:
        return {"value": self.head(_pool(h, batch["pad"]))}  # (B, 2): sign logit, log10 magnitude

    def targets(self, records, items, T, task) -> dict:
        if task != "arithmetic":
            raise UserError("model.readout 'regression' supports task 'arithmetic' only")
        y = [int(r["target"]) for r in records]
        signs = torch.tensor([1.0 if v < 0 else 0.0 for v in y])
        mags = torch.tensor([float(np.log10(1.0 + abs(float(v)))) for v in y])
        return {"value_targets": torch.stack([signs, mags], dim=1)}

    def loss(self, outputs: dict, batch: dict) -> torch.Tensor:
        pred, target = outputs["value"], batch["value_targets"].to(outputs["value"].dtype)
        return F.binary_cross_entropy_with_logits(pred[:, 0], target[:, 0]) + F.mse_loss(pred[:, 1], target[:, 1])

    def roles(self, outputs, items) -> list[list[str]]:
        return [[] for _ in items]

    def answers(self, outputs: dict, items, task: str) -> list[str]:
        out = []
        for sign_logit, mag in outputs["value"].double().tolist():
            magnitude = 10.0 ** min(max(mag, 0.0), 300.0) - 1.0
            out.append(str(int(round(-magnitude if sign_logit > 0 else magnitude))))
        return out


def build_readout(kind: str, hidden_dim: int) -> nn.Module:
    if kind == "algebraic":
        return AlgebraicReadout(hidden_dim)
    if kind == "regression":
        return RegressionReadout(hidden_dim)
    raise ValueError(f"unknown model.readout {kind!r}; use 'algebraic' or 'regression'")
