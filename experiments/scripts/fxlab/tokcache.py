"""Tokenize once: the hybrid's tokenization (spans + FluxEM vectors) cached in memory and on disk.

`fxlab.hybrid.tokenize` costs about 0.3-1.3 ms a text (span detection + exact FluxEM encoding), which
used to be paid again for every record in every epoch. `TokenCache` keeps each text's tokens in
memory, and the first training batch loads (or writes) one file per split of the config's data:

    <data_dir>/tokenized/<split>.<sha16>.v<TOKENIZER_VERSION>-<code10>.npz

`sha16` is the start of the sha256 of `<split>.jsonl`, so regenerated data never meets old tokens.
`code10` hashes everything that decides `tokenize`'s output: fluxem's version and the source of every
module of the `fluxem` package, the source of `tokenize`, and the vocabulary. A change to the span
detector or the encoder therefore gives a new file name instead of a stale cache (older files of the
same split are deleted when the new one is written). The file holds plain NumPy arrays (no pickle):
the texts as UTF-8 bytes, the token ids and type ids, the slot positions and the slot vectors
(float64, so the exact channels survive), each concatenated with an offsets array.

Cached tokens are bit-identical to `tokenize`'s (tested by training with and without the cache).
Training batches do not need the span objects, so tokens loaded from disk carry none; `predict`
(`need_spans=True`) tokenizes such a text again from its raw string the first time it sees it.
Set `FLUXEM_TOKEN_CACHE=0` to keep the cache in memory only (no files). If the data folder is not
writable, the cache says so once on stderr and stays in memory.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import io
import os
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

import fluxem
from fxlab import UserError

TOKENIZER_VERSION = 1  # bump when tokenize's output format changes in a way the code hash would miss
CACHE_DIR = "tokenized"
ENV_SWITCH = "FLUXEM_TOKEN_CACHE"  # "0" / "off" / "no" / "false": no cache files (memory only)


class Tokens(NamedTuple):
    """One text's tokens, compact: only the slot rows of the (T, 128) vectors are stored."""
    ids: np.ndarray  # (T,) int64
    types: np.ndarray  # (T,) int64
    slot_index: np.ndarray  # (S,) int64, positions of the span slots in ids
    slot_vectors: np.ndarray  # (S, 128) float64
    spans: list | None  # fluxem Spans, or None when loaded from a cache file

    def item(self) -> tuple:
        """The tuple `tokenize` returns: (ids, type_ids, vectors (T, 128), slot_index, spans)."""
        vectors = np.zeros((len(self.ids), fluxem.EMBED_DIM))
        vectors[self.slot_index] = self.slot_vectors
        return self.ids, self.types, vectors, self.slot_index.tolist(), self.spans


def disk_cache_enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "off", "no", "false")


@functools.lru_cache(maxsize=None)
def tokenizer_code_hash(tokenize: Callable, vocabulary: str) -> str:
    """sha256 (hex) of what decides tokenize's output: versions, fluxem sources, tokenize's module, vocabulary."""
    h = hashlib.sha256(f"tokenizer v{TOKENIZER_VERSION}; fluxem {fluxem.__version__}\n".encode())
    package = Path(fluxem.__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    # tokenize's whole module: tokenize and the helpers it calls (slot_sequence)
    h.update(inspect.getsource(inspect.getmodule(tokenize)).encode() + b"\0" + vocabulary.encode())
    return h.hexdigest()


def cache_path(data_dir: Path, split: str, data_sha256: str, code_hash: str) -> Path:
    """<data_dir>/tokenized/<split>.<sha16>.v<N>-<code10>.npz"""
    return Path(data_dir) / CACHE_DIR / f"{split}.{data_sha256[:16]}.v{TOKENIZER_VERSION}-{code_hash[:10]}.npz"


def _offsets(lengths: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def to_npz_bytes(texts: list[str], tokens: list[Tokens], data_sha256: str, code_hash: str) -> bytes:
    """The cache file's bytes: every array concatenated over the texts, with (N+1,) offsets."""
    encoded = [t.encode("utf-8") for t in texts]
    arrays = {
        "key": np.array(f"{data_sha256}/{code_hash}"),
        "text_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "text_offsets": _offsets([len(b) for b in encoded]),
        "ids": np.concatenate([t.ids for t in tokens]).astype(np.int64),
        "types": np.concatenate([t.types for t in tokens]).astype(np.int64),
        "token_offsets": _offsets([len(t.ids) for t in tokens]),
        "slot_index": np.concatenate([t.slot_index for t in tokens]).astype(np.int64),
        "slot_vectors": np.concatenate([t.slot_vectors.reshape(-1, fluxem.EMBED_DIM) for t in tokens]),
        "slot_offsets": _offsets([len(t.slot_index) for t in tokens]),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_npz(path: Path, data_sha256: str, code_hash: str) -> dict[str, Tokens]:
    """{text: Tokens} from a cache file; ValueError if the file belongs to other data or code."""
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    if str(a["key"]) != f"{data_sha256}/{code_hash}":
        raise ValueError(f"{path} was written for other data or another tokenizer")
    blob, to, ko, so = a["text_bytes"].tobytes(), a["text_offsets"], a["token_offsets"], a["slot_offsets"]
    out = {}
    for i in range(len(to) - 1):
        text = blob[to[i] : to[i + 1]].decode("utf-8")
        out[text] = Tokens(a["ids"][ko[i] : ko[i + 1]], a["types"][ko[i] : ko[i + 1]],
                           a["slot_index"][so[i] : so[i + 1]], a["slot_vectors"][so[i] : so[i + 1]], None)
    return out


class TokenCache:
    """text -> Tokens, filled from cache files of the attached data splits, else by `tokenize`.

    >>> from fxlab.hybrid import tokenize
    >>> cache = TokenCache(tokenize)
    >>> ids, types, vectors, slots, spans = cache.items(["12 + 7"])[0]
    >>> slots, vectors.shape
    ([1, 5], (7, 128))
    """

    enabled = True  # False: call tokenize every time (the behaviour before this cache; tests compare)

    def __init__(self, tokenize: Callable, vocabulary: str = ""):
        self.tokenize, self.vocabulary = tokenize, vocabulary
        self.memory: dict[str, Tokens] = {}
        self.split_files: list[tuple[str, Path]] = []  # (split, jsonl path), loaded on the first miss
        self._warned = False

    def attach(self, data_dir: Path, splits: tuple[str, ...] = ("train", "val")) -> None:
        """Use (and write) cache files for these splits of data_dir, loaded lazily on the first miss."""
        self.data_dir = Path(data_dir)
        self.split_files = [(s, self.data_dir / f"{s}.jsonl") for s in splits]

    def _tokens(self, text: str) -> Tokens:
        ids, types, vectors, slot_index, spans = self.tokenize(text)
        slot_index = np.asarray(slot_index, dtype=np.int64)
        return Tokens(np.asarray(ids, dtype=np.int64), np.asarray(types, dtype=np.int64), slot_index,
                      vectors[slot_index], spans)

    def items(self, texts: list[str], need_spans: bool = False) -> list[tuple]:
        """`tokenize(t)` for each text, from the cache if possible.

        Training batches (need_spans False) get spans None for tokens from a cache file, and their
        first miss loads the attached splits' files. Inference (need_spans True, e.g. eval on a test
        split) never loads them: it tokenizes each new text from its raw string, once.
        """
        if not self.enabled:
            return [self.tokenize(t) for t in texts]
        out = []
        for text in texts:
            tokens = self.memory.get(text)
            if tokens is None and self.split_files and not need_spans:
                self._load_splits()
                tokens = self.memory.get(text)
            if tokens is None or (need_spans and tokens.spans is None):
                tokens = self.memory[text] = self._tokens(text)
            out.append(tokens.item())
        return out

    def _load_splits(self) -> None:
        files, self.split_files = self.split_files, []  # once, whatever happens
        for split, jsonl in files:
            if jsonl.is_file():
                self.load_split(split, jsonl)

    def load_split(self, split: str, jsonl: Path) -> Path | None:
        """Load the split's cache file, or tokenize the split and write it; returns the file (or None)."""
        from fxlab.data import atomic_write_bytes, file_sha256, read_jsonl

        data_sha = file_sha256(jsonl)
        code = tokenizer_code_hash(self.tokenize, self.vocabulary)
        path = cache_path(jsonl.parent, split, data_sha, code)
        use_disk = disk_cache_enabled()
        if use_disk and path.is_file():
            try:
                for text, tokens in from_npz(path, data_sha, code).items():
                    self.memory.setdefault(text, tokens)  # keep entries that already hold spans
                return path
            except (OSError, ValueError, KeyError) as e:  # unreadable or foreign: rebuild it below
                self._warn(f"ignoring the token cache {path} ({e}); tokenizing {jsonl.name} again")
        texts = list(dict.fromkeys(r["text"] for r in read_jsonl(jsonl)))
        tokens = []
        for text in texts:
            t = self.memory.get(text)
            if t is None:
                t = self.memory[text] = self._tokens(text)
            tokens.append(t)
        if not use_disk or not texts:
            return None
        try:
            atomic_write_bytes(path, to_npz_bytes(texts, tokens, data_sha, code))
            for stale in path.parent.glob(f"{split}.*.npz"):  # other data or tokenizer versions
                if stale != path:
                    stale.unlink(missing_ok=True)
        except (OSError, UserError) as e:  # read-only data folder, a file named `tokenized`, ...
            self._warn(f"cannot write the token cache {path} ({e}); keeping it in memory")
            return None
        return path

    def _warn(self, message: str) -> None:
        if not self._warned:
            print(f"fxlab: {message}", file=sys.stderr)
            self._warned = True
