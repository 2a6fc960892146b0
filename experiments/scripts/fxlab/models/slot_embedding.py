"""What a hybrid slot shows the network about its value: the swappable slot embedding (model.slot_embedding).

Every setting turns a slot's `Value` into features on the CPU (`SlotEmbedding.features`, cached with the
training states) and the features into a hidden-size vector (`forward`), plus a learned type embedding
(number, quantity, unit, label, ordinal, place; fluxem.nn.TYPE_IDS). The executor always computes with
the exact FluxEM vectors; only what the network reads changes.

- `fluxem`: the 36 bounded network features of the FluxEM vector (fluxem.layout FEATURES), projected
  (the map of `fluxem.nn.FluxEMEmbedding`).
- `fone`: Fourier Number Embedding (Zhou et al. 2025): cos, sin of 2 pi |x| / 10^i for each integer
  place (i = 1 .. n) and decimal place (i = 0 .. 1 - f), plus the sign, zero-padded to the model width
  with no projection, as the paper places its features. n = `model.fone_int_digits` or, when 0, the
  training split's largest number's digits + 2 (fone.fit_int_digits); f = `model.fone_frac_digits`.
  A value with more integer digits aliases (x mod 10^n): the paper's limit, kept.
- `xval`: one learned vector scaled by the normalised value (Golkar et al. 2023): 5 x / S, S the largest
  |x| of the training split (xval.fit_scale), clipped to [-5, 5] as xVal's own inputs are.
- `digits`: the value's characters as the question writes it ("-2/7", "0.055", at most DIGIT_CHARS,
  left-aligned), each a learned character embedding plus a learned position embedding, read by a
  two-layer MLP over the concatenation: the character model's view of one number.
- `hidden`: the control. No value information at all (one constant feature), only the type.

A list slot (after `join`) shows its last item and a boolean its 0/1, for every setting, as
fxlab.executor.Value describes.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn

import fluxem
from fluxem import layout as FL
from fluxem.nn import N_TYPES, TYPE_IDS
from fxlab.executor import Value, format_answer

SLOT_EMBEDDINGS = ("fluxem", "fone", "xval", "digits", "hidden")
DIGIT_CHARS = 24
_DIGIT_VOCAB = {c: i + 1 for i, c in enumerate("0123456789-./")}  # 0 pads
XVAL_RANGE = 5.0
_numbers = fluxem.NumberEncoder()


def shown(v: Value) -> Value:
    """The Value a slot shows: a list its last item (fxlab.executor.Value)."""
    return v.items[-1] if v.kind == "list" and v.items else v


def type_id(v: Value) -> int:
    return TYPE_IDS["number" if v.kind in ("boolean", "list") else v.kind]


def exact_value(v: Value) -> Fraction | None:
    """The exact number a slot holds (a quantity: in its own unit), or None (a bare unit, an inexact value)."""
    v = shown(v)
    if v.kind == "unit":
        return None
    if v.kind == "quantity":
        return v.exact
    if not _numbers.is_exact(v.vector):
        return None
    return Fraction(_numbers.decode_exact(v.vector))


def float_value(v: Value) -> float:
    """The slot's number as a float (an inexact number from its vector; 0.0 for a bare unit)."""
    x = exact_value(v)
    if x is not None:
        return float(x)
    v = shown(v)
    return float(_numbers.decode(v.vector)) if v.kind not in ("unit", "quantity") else 0.0


def written(v: Value) -> str:
    """The value as the question writes it (`form`): "-2/7", "0.055", "12"; "" for a bare unit."""
    x = exact_value(v)
    if x is None:
        return "" if shown(v).kind == "unit" else fluxem.format_value(float_value(v))
    return format_answer(x, "fraction" if shown(v).form == "fraction" else "decimal")


class SlotEmbedding(nn.Module):
    """features(values) -> (S, D) float32 NumPy; forward(features (..., D), types (...)) -> (..., hidden_dim)."""

    def __init__(self, kind: str, hidden_dim: int, int_digits: int = 10, frac_digits: int = 0):
        super().__init__()
        if kind not in SLOT_EMBEDDINGS:
            raise ValueError(f"model.slot_embedding must be one of {', '.join(SLOT_EMBEDDINGS)}, got {kind!r}")
        self.kind, self.hidden_dim = kind, hidden_dim
        self.type_embedding = nn.Embedding(N_TYPES, hidden_dim)
        if kind == "fluxem":
            self.dim = FL.N_FEATURES
            self.proj = nn.Linear(FL.N_FEATURES, hidden_dim)
        elif kind == "fone":
            self.int_digits, self.frac_digits = int_digits, frac_digits
            self.dim = 2 * (int_digits + frac_digits) + 1
            if self.dim > hidden_dim:
                raise ValueError(f"FoNE needs {self.dim} dimensions for {int_digits} + {frac_digits} digits; "
                                 f"model.hidden_dim is {hidden_dim}")
        elif kind == "xval":
            self.dim = 1
            self.direction = nn.Linear(1, hidden_dim, bias=False)
            self.register_buffer("value_scale", torch.tensor(1.0, dtype=torch.float64))  # fitted, saved
        elif kind == "digits":
            self.dim = DIGIT_CHARS
            width = 16
            self.chars = nn.Embedding(len(_DIGIT_VOCAB) + 1, width, padding_idx=0)
            self.places = nn.Parameter(torch.zeros(DIGIT_CHARS, width))
            nn.init.normal_(self.places, std=0.02)
            self.reader = nn.Sequential(nn.Linear(DIGIT_CHARS * width, hidden_dim), nn.GELU(),
                                        nn.Linear(hidden_dim, hidden_dim))
        else:  # hidden
            self.dim = 1
            self.constant = nn.Linear(1, hidden_dim)

    def features(self, values: list[Value]) -> np.ndarray:
        out = np.zeros((len(values), self.dim), np.float32)
        if not values or self.kind == "hidden":
            return out
        if self.kind == "fluxem":
            return np.stack([shown(v).vector[FL.FEATURES] for v in values]).astype(np.float32)
        if self.kind == "digits":
            for i, v in enumerate(values):
                ids = [_DIGIT_VOCAB.get(c, 0) for c in written(v)[:DIGIT_CHARS]]
                out[i, : len(ids)] = ids
            return out
        x = np.array([float_value(v) for v in values])
        if self.kind == "xval":
            out[:, 0] = x  # normalised in forward, with the saved scale
        else:  # fone
            from fxlab.models.fone import fone_features

            digits = fone_features(torch.from_numpy(np.abs(x)), self.int_digits, self.frac_digits).numpy()
            out[:, : digits.shape[1]] = digits
            out[:, digits.shape[1]] = np.sign(x)
        return out

    def forward(self, features: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        kind = self.kind
        if kind == "fluxem":
            x = self.proj(features)
        elif kind == "fone":
            x = nn.functional.pad(features, (0, self.hidden_dim - self.dim))
        elif kind == "xval":
            m = (XVAL_RANGE * features.double() / self.value_scale).clamp(-XVAL_RANGE, XVAL_RANGE)
            x = self.direction(m.to(features.dtype))
        elif kind == "digits":
            e = self.chars(features.long()) + self.places  # (..., DIGIT_CHARS, width)
            x = self.reader(e.flatten(-2))
        else:
            x = self.constant(torch.ones_like(features))
        return x + self.type_embedding(types)
