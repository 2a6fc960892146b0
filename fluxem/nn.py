"""Torch bridge: feed FluxEM vectors into a network. Importing this module needs torch.

`FluxEMEmbedding` turns spans (from `fluxem.detect_spans`), numbers, or precomputed 128-d FluxEM vectors
into hidden-size vectors: a linear projection of the bounded network-feature channels plus a learned
type embedding. Only the bounded channels reach the network, so a value of 1e300 cannot blow up an
activation; the exact channels stay in float64 NumPy for the algebra.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    # the install from this checkout: 'fluxem[train]' alone would fetch an unrelated package of that name
    raise ImportError("fluxem.nn needs torch: run pip install -e '.[train]' from the FluxEM repository root") from exc

from . import layout as L
from .number import NumberEncoder, _plain_rows, _real_embeddings
from .quantity import QuantityEncoder
from .spans import Span

# Type ids: the three FluxEM type tags, then plain text tokens (for models that mix characters and slots),
# then the index-like spans. A "time" span is encoded as a number (its minutes) and gets the number type;
# a choice label, an ordinal and a place are encoded as numbers too (index, k, 10**p) but get their own
# types: "(b)" must not look like the value 1 beside it ("(b) 1"), nor "the third" like a list item.
TYPE_IDS = {"number": L.TYPE_NUMBER, "quantity": L.TYPE_QUANTITY, "unit": L.TYPE_UNIT, "text": 3,
            "time": L.TYPE_NUMBER, "label": 4, "ordinal": 5, "place": 6}
N_TYPES = len(set(TYPE_IDS.values()))


def span_vectors(spans: Sequence[Span]) -> np.ndarray:
    """(S, 128) float64 FluxEM vectors for spans: numbers, quantities (value + unit) and bare units.

    A number span is encoded from its exact value (`span.exact`: an int or a Fraction, so "0.1" is 1/10)
    when the detector gives one, else from `span.value`. All number spans of a text go through one
    `encode` call (the pure-Python small-list path: a few microseconds per number).

    >>> from fluxem import detect_spans
    >>> span_vectors(detect_spans("convert 5 km to m")).shape
    (2, 128)
    """
    values = [span.value if span.exact is None else span.exact for span in spans if span.kind == "number"]
    rows = _plain_rows(values)  # the rows encode(values) would give, straight from the row cache
    if rows is not None and len(rows) == len(spans):  # numbers only: one buffer, no NumPy indexing
        return np.ndarray((len(rows), L.EMBED_DIM), np.float64, bytearray().join(rows))
    if rows is not None:
        numbers = iter(rows)
        parts = [next(numbers) if span.kind == "number" else _other_row(span).tobytes() for span in spans]
        return np.ndarray((len(parts), L.EMBED_DIM), np.float64, bytearray().join(parts))
    out = np.zeros((len(spans), L.EMBED_DIM))
    if values:
        out[[i for i, span in enumerate(spans) if span.kind == "number"]] = _NUMBERS.encode(values)
    for i, span in enumerate(spans):
        if span.kind != "number":
            out[i] = _other_row(span)
    return out


def _other_row(span: Span) -> np.ndarray:
    """(128,) vector of a quantity or bare-unit span; a "time", "label", "ordinal" or "place" span is its
    number (minutes, index, k, 10**p)."""
    if span.kind == "quantity":
        return _QUANTITIES.encode(span.value, span.unit)
    return _QUANTITIES.encode_unit(span.unit) if span.kind == "unit" else _NUMBERS.encode(span.exact)


_NUMBERS, _QUANTITIES = NumberEncoder(), QuantityEncoder()  # stateless; shared to skip per-call set-up


class FluxEMEmbedding(nn.Module):
    """Project FluxEM vectors to `hidden_dim` and add a learned type embedding.

    Only the 36 bounded FEATURES dims are projected (layout version 2: sign, zero and integer flags, the
    decimal exponent and 12 mantissa digits of the value, dimension exponents, offset flag; docs/layout.md).

    >>> emb = FluxEMEmbedding(hidden_dim=16)
    >>> emb.embed_values([3, 1e300]).shape
    torch.Size([2, 16])
    """

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.proj = nn.Linear(L.N_FEATURES, hidden_dim)
        self.type_embedding = nn.Embedding(N_TYPES, hidden_dim)

    def forward(self, vectors: torch.Tensor, type_ids: torch.Tensor) -> torch.Tensor:
        """vectors (..., 128) FluxEM vectors, type_ids (...) long -> (..., hidden_dim)."""
        if vectors.is_complex():  # .to() a real dtype would drop the imaginary part
            raise TypeError(f"vectors is a complex tensor ({vectors.dtype}); FluxEM embeddings are real")
        features = vectors[..., L.FEATURES].to(self.proj.weight.dtype)  # (..., 36), bounded in [-1, 1]
        return self.proj(features) + self.type_embedding(type_ids)

    def embed_vectors(self, vectors: np.ndarray) -> torch.Tensor:
        """(S, 128) NumPy FluxEM vectors -> (S, hidden) on the module's device; types from the type tag."""
        device = self.proj.weight.device
        vecs = torch.as_tensor(np.ascontiguousarray(_real_embeddings(vectors, "vectors")), device=device)
        type_ids = vecs[..., L.TYPE][..., :3].argmax(dim=-1)
        return self(vecs, type_ids)

    def embed_values(self, values) -> torch.Tensor:
        """Numbers -> (N, hidden)."""
        return self.embed_vectors(NumberEncoder().encode(values).reshape(-1, L.EMBED_DIM))

    def embed_spans(self, spans: Sequence[Span]) -> torch.Tensor:
        """Spans from `detect_spans` -> (S, hidden)."""
        return self.embed_vectors(span_vectors(spans))
