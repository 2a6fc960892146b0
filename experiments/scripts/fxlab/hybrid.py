"""The hybrid model (docs/design.md §5): characters + FluxEM span slots -> roles -> FluxEM algebra.

Input. `fluxem.detect_spans(text)` finds the numbers, quantities and units. Each span becomes ONE slot:
the projected bounded FluxEM features plus a type embedding (`fluxem.nn.FluxEMEmbedding`). Every other
character is a character token. So "12 + 7 * 3" is the 9-element sequence [N][ ][+][ ][N][ ][*][ ][N],
whatever the size of the numbers.

Encoder. A bidirectional transformer whose attention is LOCAL: position i attends only to |i - j| <= W
(model.attn_window), with a learned per-head bias for each offset in [-W, W] and no absolute positions.
Every position therefore computes the same function of its neighbourhood wherever it sits, so the
network behaves on a 10-operation input exactly as on the 1-3-operation inputs it was trained on
(guard (c), tested).

Readout (model.readout):
- "algebraic": the network predicts a role for every slot (ROLES) and an answer type per example. A
  deterministic executor (`fxlab.readout`) applies FluxEM operators to the span vectors in that order.
  Nothing in Python looks at the operators in the text: the only path from text to structure is the
  trained network.
- "regression": an ablation; a head regresses sign and log10-magnitude of the answer from the pooled
  encoding (what a float-readout model can do), rounded to an integer.

Training labels: the generator knows each expression's structure and writes per-span `roles` into the
training records; `collate` reads them (and only `collate`). `predict` sees raw text only.

Input limits. The attention's masks are (B, T, T), so memory grows with the square of the sequence
length. A text longer than MAX_INPUT_CHARS (2000) characters gets the answer "" (counted wrong) without
being tokenized, as does a text whose spans FluxEM cannot encode (tokenize's ValueError); a training
record like that is refused (file:line) before training starts. `predict` splits a batch so that
B x T^2 stays within MAX_BATCH_CELLS (a batch of ordinary texts is never split), so its memory is bounded
whatever the texts and `training.eval_batch_size`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
from fluxem.nn import TYPE_IDS, FluxEMEmbedding, span_vectors
from fxlab import readout as R
from fxlab.config import Config, ModelConfig
from fxlab.tokcache import TokenCache
from fxlab.token_model import BOS, CHAR_TO_ID, EOS, SPECIALS, UNK

PAD = 0
SLOT = len(SPECIALS) + len(CHAR_TO_ID)  # the token id that marks a span slot
VOCAB_SIZE = SLOT + 1
IGNORE = -100
# The longest text the hybrid reads. The test texts of every shipped config are under 300 characters;
# a number may have up to fluxem's MAX_NUMERAL_CHARS (1000) digits, so two such operands still fit.
MAX_INPUT_CHARS = 2000
# Largest B x T^2 of one inference batch: one text of MAX_INPUT_CHARS characters (T = 2002) fits alone.
MAX_BATCH_CELLS = 1 << 22
# Everything besides the code that decides tokenize's output; part of the token cache's key.
VOCABULARY = repr((SPECIALS, sorted(CHAR_TO_ID.items()), SLOT, sorted(TYPE_IDS.items())))


def slot_sequence(text: str, spans) -> tuple[list[int], list[int], list[int]]:
    """(ids, type ids, slot positions): BOS, the characters of `text` with one SLOT in place of each span
    (spans sorted and non-overlapping, as detect_spans gives them), EOS."""
    ids, types, slot_index, cursor = [BOS], [TYPE_IDS["text"]], [], 0  # BOS/EOS mark the edges
    for span in spans:
        for ch in text[cursor : span.start]:
            ids.append(CHAR_TO_ID.get(ch, UNK))
            types.append(TYPE_IDS["text"])
        slot_index.append(len(ids))
        ids.append(SLOT)
        types.append(TYPE_IDS[span.kind])
        cursor = span.end
    for ch in text[cursor:]:
        ids.append(CHAR_TO_ID.get(ch, UNK))
        types.append(TYPE_IDS["text"])
    ids.append(EOS)
    types.append(TYPE_IDS["text"])
    return ids, types, slot_index


def tokenize(text: str):
    """Characters and span slots of one text.

    Returns (ids, type_ids, vectors, slot_index, spans): ids (T,) = BOS, characters with SLOT in place of
    each span, EOS; vectors
    (T, 128) float64 FluxEM vectors (zeros at character positions), slot_index the positions of the S
    slots in order. ValueError for a text longer than MAX_INPUT_CHARS or a span FluxEM cannot encode.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise ValueError(f"a text of {len(text)} characters; the hybrid reads at most {MAX_INPUT_CHARS} "
                         "(fxlab.hybrid.MAX_INPUT_CHARS)")
    spans = fluxem.detect_spans(text)
    ids, types, slot_index = slot_sequence(text, spans)
    vectors = np.zeros((len(ids), fluxem.EMBED_DIM))
    if spans:
        vectors[slot_index] = span_vectors(spans)
    return ids, types, vectors, slot_index, spans


def token_groups(lengths: list[int], max_items: int | None = None, budget: int = MAX_BATCH_CELLS) -> list[list[int]]:
    """Consecutive runs of the indices of `lengths` (sequence lengths T) such that each run's count x its
    longest T squared (the size of the attention's (B, T, T) masks) stays within `budget`, and each run
    has at most `max_items` indices; a text too long for the budget on its own forms a run alone.

    >>> token_groups([10, 10, 10]), token_groups([10, 10, 10], budget=250), token_groups([1, 30, 1], budget=900)
    ([[0, 1, 2]], [[0, 1], [2]], [[0], [1], [2]])
    """
    groups: list[list[int]] = []
    run: list[int] = []
    longest = 0
    for i, n in enumerate(lengths):
        wider = max(longest, n)
        if run and ((len(run) + 1) * wider * wider > budget or (max_items is not None and len(run) >= max_items)):
            groups.append(run)
            run, wider = [], n
        run.append(i)
        longest = wider
    if run:
        groups.append(run)
    return groups


class LocalSelfAttention(nn.Module):
    """Attention within a window of +-W positions (model.attn_side "both") or of the W positions before and
    the position itself ("left"), with a learned relative bias."""

    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.n_head, self.window = mc.num_heads, mc.attn_window
        self.left_only = mc.attn_side == "left"
        self.qkv = nn.Linear(mc.hidden_dim, 3 * mc.hidden_dim)
        self.proj = nn.Linear(mc.hidden_dim, mc.hidden_dim)
        self.rel_bias = nn.Parameter(torch.zeros(mc.num_heads, 2 * mc.attn_window + 1))  # (H, 2W+1)
        self.dropout = mc.dropout

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        offset = torch.arange(T, device=x.device)[None, :] - torch.arange(T, device=x.device)[:, None]  # (T, T)
        local = offset.abs() <= self.window
        if self.left_only:
            local = local & (offset <= 0)  # keys at or before the query only
        bias = self.rel_bias[:, offset.clamp(-self.window, self.window) + self.window]  # (H, T, T)
        mask = local[None, None] & ~pad[:, None, None, :]  # (B, 1, T, T)
        bias = bias[None].masked_fill(~mask, float("-inf"))  # (B, H, T, T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(mc.hidden_dim), nn.LayerNorm(mc.hidden_dim)
        self.attn = LocalSelfAttention(mc)
        self.mlp = nn.Sequential(
            nn.Linear(mc.hidden_dim, 4 * mc.hidden_dim), nn.GELU(), nn.Linear(4 * mc.hidden_dim, mc.hidden_dim),
            nn.Dropout(mc.dropout),
        )

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), pad)
        return x + self.mlp(self.ln2(x))


class HybridModel(nn.Module):
    def __init__(self, mc: ModelConfig, task: str):
        super().__init__()
        if mc.hidden_dim % mc.num_heads:
            raise ValueError(f"model.hidden_dim {mc.hidden_dim} is not divisible by model.num_heads {mc.num_heads}")
        self.task, self.readout_kind = task, mc.readout
        self.slot_features = mc.slot_features  # "hidden": the ablation of model.slot_features (see encode)
        self.char_embedding = nn.Embedding(VOCAB_SIZE, mc.hidden_dim)
        self.slot_embedding = FluxEMEmbedding(mc.hidden_dim)
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(mc.hidden_dim)
        self.readout = R.build_readout(mc.readout, mc.hidden_dim)

    def encode(self, batch: dict) -> torch.Tensor:
        ids, types, vectors = batch["ids"], batch["types"], batch["vectors"]  # (B, T), (B, T), (B, T, 128)
        is_slot = (ids == SLOT)[..., None]  # (B, T, 1)
        if self.slot_features == "hidden":  # ablation: the network sees each slot's type, not its value;
            vectors = torch.zeros_like(vectors)  # the executor still computes with the real FluxEM vectors
        x = torch.where(is_slot, self.slot_embedding(vectors, types), self.char_embedding(ids))  # (B, T, C)
        for block in self.blocks:
            x = block(x, batch["pad"])
        return self.ln_f(x)  # (B, T, C)

    def forward(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        h = self.encode(batch)  # (B, T, C)
        outputs = self.readout(h, batch)
        loss = self.readout.loss(outputs, batch) if "role_targets" in batch or "value_targets" in batch else None
        return outputs, loss

    @property
    def token_cache(self) -> TokenCache:
        """text -> tokens, so that each text is tokenized once per run (see fxlab.tokcache)."""
        if "_token_cache" not in self.__dict__:  # plain attribute: not a submodule, not in state_dict
            self.__dict__["_token_cache"] = TokenCache(tokenize, VOCABULARY)
        return self.__dict__["_token_cache"]

    def _batch(self, items: list[tuple]) -> dict:
        T = max(1, max(len(it[0]) for it in items))
        B = len(items)
        ids = np.full((B, T), PAD, dtype=np.int64)
        types = np.full((B, T), TYPE_IDS["text"], dtype=np.int64)
        vectors = np.zeros((B, T, fluxem.EMBED_DIM), dtype=np.float64)
        for b, (tok, typ, vec, _, _) in enumerate(items):
            ids[b, : len(tok)] = tok
            types[b, : len(typ)] = typ
            vectors[b, : len(tok)] = vec
        ids_t = torch.from_numpy(ids)
        batch = {"ids": ids_t, "types": torch.from_numpy(types), "vectors": torch.from_numpy(vectors),
                 "pad": ids_t == PAD}
        device = self.char_embedding.weight.device
        return {k: v.to(device) for k, v in batch.items()}

    def collate(self, records: list[dict]) -> dict:
        """Training batch: the inputs plus role labels (from the generator) and answer-type labels."""
        items = self.token_cache.items([r["text"] for r in records])  # spans not needed for training
        batch = self._batch(items)
        batch.update(self.readout.targets(records, items, batch["ids"].shape[1], self.task))
        return {k: v.to(self.char_embedding.weight.device) if torch.is_tensor(v) else v for k, v in batch.items()}

    @torch.no_grad()
    def _run(self, items: list[tuple]) -> dict:
        """Readout outputs for one batch of tokenized texts (eval mode; the padding mask is passed as in training)."""
        was_training = self.training
        self.eval()
        try:
            batch = self._batch(items)
            return self.readout(self.encode(batch), batch)
        finally:
            self.train(was_training)

    def _infer(self, texts: list[str]) -> tuple[dict, list[tuple]]:
        """Readout outputs for raw texts as ONE batch (all of them readable)."""
        items = self.token_cache.items(texts, need_spans=True)  # tokenized from each raw text (once)
        return self._run(items), items

    def _read(self, texts: list[str]) -> list[tuple | None]:
        """Each text's tokens, or None for a text the model cannot read (see "Input limits")."""
        out = []
        for text in texts:
            item = None
            if len(text) <= MAX_INPUT_CHARS:
                try:
                    item = self.token_cache.items([text], need_spans=True)[0]
                except (ValueError, OverflowError):  # a span FluxEM cannot encode
                    pass
            out.append(item)
        return out

    def _each(self, texts: list[str], finish) -> list:
        """finish(outputs, items) over the readable texts, in batches within MAX_BATCH_CELLS; None for the others."""
        items = self._read(texts)
        readable = [i for i, item in enumerate(items) if item is not None]
        results: list = [None] * len(texts)
        for group in token_groups([len(items[i][0]) for i in readable]):
            chosen = [readable[g] for g in group]
            batch_items = [items[i] for i in chosen]
            for i, result in zip(chosen, finish(self._run(batch_items), batch_items)):
                results[i] = result
        return results

    def predict(self, texts: list[str]) -> list[str]:
        """Answers from raw text: spans -> network -> roles -> FluxEM executor. No labels involved. "" for a
        text the model cannot read (longer than MAX_INPUT_CHARS, or a span FluxEM cannot encode)."""
        answers = self._each(texts, lambda outputs, items: self.readout.answers(outputs, items, self.task))
        return ["" if a is None else a for a in answers]

    def predict_roles(self, texts: list[str]) -> list[list[str]]:
        """The roles the network assigns to each span (for inspection and guard (b)); [] for an unreadable text."""
        return [[] if r is None else r for r in self._each(texts, self.readout.roles)]


def build(cfg: Config) -> nn.Module:
    if cfg.task == "mathds":  # real arithmetic text: the iterative-reduction hybrid (docs/design.md §5.2)
        from fxlab.reducer import ReductionHybrid

        return ReductionHybrid(cfg.model)
    model = HybridModel(cfg.model, cfg.task)
    model.token_cache.attach(cfg.data_path)  # train/val tokens: <data_dir>/tokenized/*.npz
    return model
