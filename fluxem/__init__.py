"""FluxEM: deterministic 128-d embeddings in which arithmetic is vector algebra.

>>> import fluxem
>>> enc = fluxem.NumberEncoder()
>>> enc.decode_int(enc.mul(enc.encode(123456789), enc.encode(987654321)))
121932631112635269
>>> from decimal import Decimal
>>> enc.decode_exact(enc.mul(enc.encode(Decimal("0.1")), enc.encode(Decimal("0.2"))))
Fraction(1, 50)

The core needs only NumPy. The torch bridge `fluxem.nn` is imported on demand, never here.
"""

from .layout import EMBED_DIM
from .number import NumberEncoder
from .quantity import QuantityEncoder
from .spans import Span, detect_spans
from .units import Unit, format_value, parse_unit, parse_value

__version__ = "0.2.0"

__all__ = [
    "EMBED_DIM",
    "NumberEncoder",
    "QuantityEncoder",
    "Span",
    "Unit",
    "__version__",
    "detect_spans",
    "format_value",
    "parse_unit",
    "parse_value",
]
