"""FluxEM: deterministic 128-d embeddings in which arithmetic is vector algebra.

The core needs only NumPy. `fluxem.nn` (torch) is imported on demand, never here.
"""

from .layout import EMBED_DIM
from .number import NumberEncoder

__version__ = "0.1.0"

__all__ = ["EMBED_DIM", "NumberEncoder", "__version__"]
