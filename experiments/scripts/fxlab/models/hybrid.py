"""The hybrid model: characters + FluxEM span slots -> a program of executor instructions, one step at a time.

Input. `fluxem.detect_spans(text)` finds the numbers, quantities and units; each span of a kind the task
computes with (`Task.slot_kinds`) becomes ONE slot: its FluxEM network features, projected, plus a type
embedding (as `fluxem.nn.FluxEMEmbedding`; `model.slot_embedding` swaps what the slot shows). Every other character is a character token. So "12 + 7 * 3" is
BOS [N][ ][+][ ][N][ ][*][ ][N] EOS, whatever the size of the numbers. The characters are the token
model's, plus `EXTRA_CHARS` ("<", ">", "!", ":" of mathematics_dataset's comparison questions); the token
baseline keeps its fixed vocabulary, where those are one UNK (so "Is a < b?" and "Is a > b?" look alike
to it: an unfairness against the baseline on comparison__pair).

Encoder. A transformer whose attention is LOCAL (|i - j| <= model.attn_window, a learned bias per offset,
no absolute positions; `model.attn_side: left` reads only what precedes a token). Every position computes
the same function of its neighbourhood wherever it sits (guard (c), docs/design.md §5).

Readout (model.readout: executor). For every pair of adjacent slots the network picks a binary
instruction of `fxlab.executor` (or `none`), for every slot a unary one (or `keep` / `unwrap`), and,
once per question, the answer form (`Task.formats`). The executor carries the step out on the slots'
FluxEM values: each reduced stretch of tokens becomes ONE new slot holding the result's vector. The
network runs again on the shorter sequence until it predicts no action; the one slot left is the answer,
written by the task (`Task.answer`). A flat `a + b * c` is two steps, a conversion one step
(`convert(quantity, unit)`), `can_add` one step that yields a boolean.

Nothing here reads the question text: the only path from text to structure is the network. Training
targets come from the task's teacher (`fxlab.tasks.base.teacher_states`), called only by `collate`.

Input limits. The attention's masks are (B, T, T), so memory grows with the square of the sequence
length. A text longer than MAX_INPUT_CHARS (2000) characters, or with a span FluxEM cannot encode, gets
the answer "" (counted wrong) without being read; a training record like that is refused (file:line)
before training starts. Each inference step splits its batch so that B x T^2 stays within
MAX_BATCH_CELLS (a batch of ordinary texts is never split), so memory is bounded whatever the texts.

Ablations: `model.slot_features: hidden` zeroes the slot features the network reads (the executor still
computes with the real vectors); `model.readout: regression` regresses sign and log10-magnitude of an
integer answer from the pooled encoding, with no executor.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
from fluxem.nn import TYPE_IDS
from fxlab import UserError
from fxlab.config import Config, ModelConfig
from fxlab.data import load_split
from fxlab.executor import BINARY_OPS, UNARY_OPS, StepError, Value, execute, step, terminal_slot, value_of_span
from fxlab.models.pointer import ValueHeads, comparisons
from fxlab.models.slot_embedding import SlotEmbedding, type_id
from fxlab.tasks import Task, get_task
from fxlab.tasks.base import MAX_STEPS, SLOT_CHAR, teacher_states
from fxlab.models.token_model import BOS, CHAR_TO_ID, EOS, SPECIALS, UNK

PAD = 0
SLOT = len(SPECIALS) + len(CHAR_TO_ID)  # the token id that marks a span slot
# Characters of mathematics_dataset's questions that the token model's vocabulary lacks ("Is a < b?",
# "Is a != b?", "Which is bigger: a or b?"): the hybrid reads them as their own tokens, after SLOT. The
# token baseline keeps its fixed vocabulary (changing it would change every baseline result), where they
# are all one UNK: an unfairness against it on comparison__pair, disclosed here and in the results.
EXTRA_CHARS = "<>!:"
CHAR_IDS = {**CHAR_TO_ID, **{c: SLOT + 1 + i for i, c in enumerate(EXTRA_CHARS)}}
ID_CHARS = {i: c for c, i in CHAR_IDS.items()}
VOCAB_SIZE = SLOT + 1 + len(EXTRA_CHARS)
IGNORE = -100
BINARY_ID = {op: i for i, op in enumerate(BINARY_OPS)}
UNARY_ID = {op: i for i, op in enumerate(UNARY_OPS)}
# States differ a lot in length (a question shrinks as it is reduced), so a batch runs in buckets of
# similar length: less padding, the same result.
TRAIN_BUCKETS = 3
PREDICT_CHUNK = 64
# The longest text the hybrid reads. The test texts of every shipped config are under 300 characters;
# a number may have up to fluxem's MAX_NUMERAL_CHARS (1000) digits, so two such operands still fit.
MAX_INPUT_CHARS = 2000
# Largest B x T^2 of one inference batch: one text of MAX_INPUT_CHARS characters (T = 2002) fits alone.
MAX_BATCH_CELLS = 1 << 22
# FoNE integer digits before the training split exists (eval.py then rebuilds from the saved config).
DEFAULT_FONE_INT_DIGITS = 12


# ----------------------------------------------------------------------------- states


def slot_sequence(text: str, spans) -> tuple[list[int], list[int]]:
    """(ids, slot positions): BOS, the characters of `text` with one SLOT in place of each span (spans
    sorted and non-overlapping, as detect_spans gives them), EOS."""
    ids, slot_index, cursor = [BOS], [], 0
    for span in spans:
        ids.extend(CHAR_IDS.get(ch, UNK) for ch in text[cursor : span.start])
        slot_index.append(len(ids))
        ids.append(SLOT)
        cursor = span.end
    ids.extend(CHAR_IDS.get(ch, UNK) for ch in text[cursor:])
    ids.append(EOS)
    return ids, slot_index


def initial_state(text: str, task: Task) -> tuple[list[int], list[Value]]:
    """(ids, slot Values) of a question: the spans of the task's slot kinds become slots. ValueError for a
    text longer than MAX_INPUT_CHARS or a span FluxEM cannot encode."""
    if len(text) > MAX_INPUT_CHARS:
        raise ValueError(f"a text of {len(text)} characters; the hybrid reads at most {MAX_INPUT_CHARS} "
                         "(fxlab.models.hybrid.MAX_INPUT_CHARS)")
    spans = [s for s in fluxem.detect_spans(text) if s.kind in task.slot_kinds]
    ids, _ = slot_sequence(text, spans)
    return ids, [value_of_span(s) for s in spans]


def state_text(ids: list[int]) -> str:
    """A state's characters, with SLOT_CHAR for each slot (BOS/EOS dropped): what the teacher reads."""
    out = []
    for t in ids:
        if t == SLOT:
            out.append(SLOT_CHAR)
        elif t in ID_CHARS:
            out.append(ID_CHARS[t])
        elif t == UNK:
            out.append("\ufffd")
    return "".join(out)


def run_step(ids, values, gaps, unary, apply=execute):
    return step(ids, values, gaps, unary, slot_id=SLOT, edges=(SLOT, BOS, EOS), apply=apply)


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


# ----------------------------------------------------------------------------- the encoder


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


def _mean_between(csum: torch.Tensor, b: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Mean hidden state of the tokens strictly between positions left and right of rows b (zeros if
    none), from csum (B, T+1, C), the cumulative sum of h with a leading zero row."""
    count = (right - left - 1).clamp(min=1).unsqueeze(-1).to(csum.dtype)
    return (csum[b, right] - csum[b, left + 1]) / count


# ----------------------------------------------------------------------------- the model


class HybridModel(nn.Module):
    def __init__(self, mc: ModelConfig, task: Task):
        super().__init__()
        if mc.hidden_dim % mc.num_heads:
            raise ValueError(f"model.hidden_dim {mc.hidden_dim} is not divisible by model.num_heads {mc.num_heads}")
        C = mc.hidden_dim
        self.task, self.readout, self.value_readout = task, mc.readout, mc.value_readout
        self.char_embedding = nn.Embedding(VOCAB_SIZE, C)
        int_digits = mc.fone_int_digits or DEFAULT_FONE_INT_DIGITS
        self.slot_embedding = SlotEmbedding(mc.slot_embedding, C, int_digits, mc.fone_frac_digits)
        self.value_heads = ValueHeads(C) if mc.value_readout == "pointer" else None
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(C)
        if self.readout == "regression":
            if task.name != "arithmetic":
                raise UserError("model.readout 'regression' supports task 'arithmetic' only")
            self.value_head = nn.Linear(C, 2)  # sign logit, log10(1 + |y|)
        else:
            # Heads read the decision's immediate neighbourhood directly (the tokens just outside it), so
            # the local rule (an operator's neighbours, a parenthesis on each side) need not be carried
            # through the attention layers.
            self.gap_head = nn.Sequential(nn.Linear(7 * C, C), nn.GELU(), nn.Linear(C, len(BINARY_OPS)))
            self.slot_head = nn.Sequential(nn.Linear(7 * C, C), nn.GELU(), nn.Linear(C, len(UNARY_OPS)))
            self.format_head = nn.Linear(C, max(1, len(task.formats)))
        self._train_states: dict[str, list] = {}  # record text -> teacher-forced states (training only)
        self._train_comparisons: dict[str, tuple] = {}  # record text -> pointer readout examples

    # -- tensors

    def _features(self, values: list[Value]) -> tuple[np.ndarray, list[int]]:
        """(S, D) float32 slot features and the S type ids of slot Values: all the network reads of them."""
        return self.slot_embedding.features(values), [type_id(v) for v in values]

    def embed_values(self, values: list[Value]) -> torch.Tensor:
        """(n, C) slot embeddings of Values, as the encoder's input layer sees them."""
        device = self.char_embedding.weight.device
        feats, types = self._features(values)
        return self.slot_embedding(torch.from_numpy(feats).to(device), torch.tensor(types, device=device))

    def _batch(self, states: list[tuple[list[int], tuple[np.ndarray, list[int]]]]) -> dict:
        """states [(ids, (slot features (S, D), slot type ids))] -> padded tensors + gap/slot index tensors."""
        device = self.char_embedding.weight.device
        B, T = len(states), max(len(ids) for ids, _ in states)
        ids = torch.full((B, T), PAD, dtype=torch.long)
        types = torch.full((B, T), TYPE_IDS["text"], dtype=torch.long)
        features = torch.zeros((B, T, self.slot_embedding.dim), dtype=torch.float32)
        slot_b, slot_p, gap_b, gap_l, gap_r = [], [], [], [], []
        for b, (tok, (rows, kinds)) in enumerate(states):
            ids[b, : len(tok)] = torch.tensor(tok, dtype=torch.long)
            pos = [p for p, t in enumerate(tok) if t == SLOT]
            if pos:
                features[b, pos] = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
            if pos:
                types[b, pos] = torch.tensor(kinds, dtype=torch.long)
            slot_b += [b] * len(pos)
            slot_p += pos
            gap_b += [b] * max(0, len(pos) - 1)
            gap_l += pos[:-1]
            gap_r += pos[1:]
        as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
        return {"ids": ids.to(device), "types": types.to(device), "features": features.to(device),
                "pad": (ids == PAD).to(device), "slot_b": as_long(slot_b), "slot_p": as_long(slot_p),
                "gap_b": as_long(gap_b), "gap_l": as_long(gap_l), "gap_r": as_long(gap_r)}

    def encode(self, batch: dict) -> torch.Tensor:
        ids = batch["ids"]
        is_slot = (ids == SLOT)[..., None]  # (B, T, 1)
        x = torch.where(is_slot, self.slot_embedding(batch["features"], batch["types"]), self.char_embedding(ids))
        for block in self.blocks:
            x = block(x, batch["pad"])
        return self.ln_f(x)  # (B, T, C)

    def forward(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        """A batch from `collate` ({"parts": [length buckets]}) or `_batch` -> (outputs, loss or None).
        The loss of a bucketed batch is the state-weighted mean of the buckets' losses."""
        if "parts" not in batch:
            return self._forward_part(batch)
        results = [self._forward_part(part) for part in batch["parts"]]
        sizes = [part["ids"].shape[0] for part in batch["parts"]]
        losses = [loss for _, loss in results]
        loss = None if any(x is None for x in losses) else sum(x * n for x, n in zip(losses, sizes)) / sum(sizes)
        if loss is not None and batch.get("comparisons") is not None:  # the pointer readout's value heads
            value_loss = self.value_heads.loss(self.embed_values, *batch["comparisons"])
            if value_loss is not None:
                loss = loss + value_loss
        return {"parts": [out for out, _ in results]}, loss

    def _forward_part(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        h = self.encode(batch)  # (B, T, C)
        keep = (~batch["pad"]).unsqueeze(-1).to(h.dtype)
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)  # (B, C)
        if self.readout == "regression":
            value = self.value_head(pooled)  # (B, 2)
            loss = None
            if "value_targets" in batch:
                t = batch["value_targets"].to(value.dtype)
                loss = F.binary_cross_entropy_with_logits(value[:, 0], t[:, 0]) + F.mse_loss(value[:, 1], t[:, 1])
            return {"value": value}, loss
        # A gap reads its two slots, the mean of the tokens between them (the operator or the words) and
        # the two tokens just outside each slot (an operator is often one space away: "# - # - #"); a
        # slot reads itself and two tokens on each side. Positions past the edges read BOS / the last token.
        T = h.shape[1]
        csum = torch.cat([torch.zeros_like(h[:, :1]), h.cumsum(1)], dim=1)  # (B, T+1, C)
        gb, gl, gr = batch["gap_b"], batch["gap_l"], batch["gap_r"]
        between = _mean_between(csum, gb, gl, gr)  # (G, C)
        at = lambda b, p: h[b, p.clamp(0, T - 1)]  # noqa: E731
        gap_in = torch.cat([at(gb, gl - 2), at(gb, gl - 1), h[gb, gl], between, h[gb, gr], at(gb, gr + 1),
                            at(gb, gr + 2)], dim=-1)  # (G, 7C)
        gap_logits = self.gap_head(gap_in)  # (G, n_binary)
        # A slot also reads the mean of the stretch from the previous slot (or BOS) and of the stretch to
        # the next slot (or EOS): in "What is the seventh root of #" the word that names the operation is
        # further away than the attention reaches, but it is all between two slots, wherever they are.
        sb, sp = batch["slot_b"], batch["slot_p"]
        same_prev = torch.cat([sb.new_zeros(1, dtype=torch.bool), sb[1:] == sb[:-1]]) if len(sb) else sb.bool()
        same_next = torch.cat([sb[:-1] == sb[1:], sb.new_zeros(1, dtype=torch.bool)]) if len(sb) else sb.bool()
        prev_p = torch.where(same_prev, torch.roll(sp, 1), torch.zeros_like(sp))  # BOS at 0
        last = (~batch["pad"]).sum(1) - 1  # (B,) EOS position
        next_p = torch.where(same_next, torch.roll(sp, -1), last[sb])
        neighbours = [at(sb, sp + d) for d in (-2, -1, 0, 1, 2)]
        stretches = [_mean_between(csum, sb, prev_p, sp), _mean_between(csum, sb, sp, next_p)]
        slot_logits = self.slot_head(torch.cat(neighbours + stretches, dim=-1))  # (S, n_unary)
        format_logits = self.format_head(pooled)  # (B, n_formats)
        outputs = {"gap_logits": gap_logits, "slot_logits": slot_logits, "format_logits": format_logits}
        loss = None
        if "gap_targets" in batch:
            loss = (gap_logits.sum() + slot_logits.sum() + format_logits.sum()) * 0  # keeps the graph if unlabelled
            for logits, targets in ((gap_logits, batch["gap_targets"]), (slot_logits, batch["slot_targets"]),
                                    (format_logits, batch["format_targets"])):
                if (targets != IGNORE).any():
                    loss = loss + F.cross_entropy(logits, targets, ignore_index=IGNORE)
        return outputs, loss

    # -- training

    def _states_of(self, record: dict) -> list:
        """Teacher-forced states of one training record: [(ids, (features, types), gaps, unary, format)]."""
        text = record["text"]  # a text past MAX_INPUT_CHARS raises in initial_state (teacher_states lets it through)
        if text not in self._train_states:
            # Keep only what training reads: the slots' network features, float32 (144 bytes a slot
            # instead of 1 KB, so the ~600k states of mathds_full fit in memory).
            states = teacher_states(self.task, record, lambda r: initial_state(r["text"], self.task), run_step,
                                    state_text)
            if not states and self.task.every_record_labelled:
                raise ValueError(f"the {self.task.name} teacher cannot reduce this record to its target "
                                 f"{record['target']!r}; regenerate the data with generate_data.py")
            self._train_states[text] = [(ids, self._features(values), gaps, unary, fmt)
                                        for ids, values, gaps, unary, fmt in states]
            if self.value_heads is not None:
                order, near = [], []
                for ids, values, gaps, unary, fmt in states:
                    o, n = comparisons(values, gaps, unary)
                    order += o
                    near += n
                self._train_comparisons[text] = (order, near)
        return self._train_states[text]

    def collate(self, records: list[dict]) -> dict:
        """Training batch. Executor readout: every teacher-forced state of the records, in TRAIN_BUCKETS
        buckets of similar length. Regression readout: the questions and their integer targets."""
        if self.readout == "regression":
            batch = self._batch([self._initial_features(r["text"]) for r in records])
            y = [int(r["target"]) for r in records]
            targets = [[1.0 if v < 0 else 0.0, float(np.log10(1.0 + abs(float(v))))] for v in y]
            batch["value_targets"] = torch.tensor(targets, device=batch["ids"].device)
            return batch
        states = [s for r in records for s in self._states_of(r)]
        comparisons_ = None
        if self.value_heads is not None:
            pairs = [self._train_comparisons.get(r["text"], ([], [])) for r in records]
            comparisons_ = ([x for o, _ in pairs for x in o], [x for _, n in pairs for x in n])
        if not states:
            # Every record of this batch was left out by the teacher: one unlabelled state, which adds
            # nothing to the loss (its labels are all IGNORE).
            ids, feats = self._initial_features(records[0]["text"])
            states = [(ids, feats, None, None, None)]
        order = sorted(range(len(states)), key=lambda i: len(states[i][0]))
        n = min(TRAIN_BUCKETS, len(order))
        bounds = [len(order) * k // n for k in range(n + 1)]
        return {"parts": [self._labelled_batch([states[i] for i in order[a:b]]) for a, b in zip(bounds, bounds[1:])],
                "comparisons": comparisons_}

    def _initial_features(self, text: str):
        ids, values = initial_state(text, self.task)
        return ids, self._features(values)

    def _labelled_batch(self, states: list[tuple]) -> dict:
        batch = self._batch([(ids, feats) for ids, feats, *_ in states])
        gap_t, slot_t, fmt_t = [], [], []
        for ids, (rows, _), gaps, unary, fmt in states:
            n = len(rows)
            gap_t += [IGNORE if gaps is None else BINARY_ID[gaps.get(k, "none")] for k in range(n - 1)]
            slot_t += [IGNORE if unary is None else UNARY_ID[unary.get(k, "keep")] for k in range(n)]
            fmt_t.append(IGNORE if fmt is None else self.task.formats.index(fmt))
        device = self.char_embedding.weight.device
        batch.update(gap_targets=torch.tensor(gap_t, dtype=torch.long, device=device),
                     slot_targets=torch.tensor(slot_t, dtype=torch.long, device=device),
                     format_targets=torch.tensor(fmt_t, dtype=torch.long, device=device))
        return batch

    # -- inference

    def decide(self, outputs: dict, batch: dict, n: int) -> list[tuple[dict[int, str], dict[int, str]]]:
        """The network's step for each of the n states: argmax binary ops (overlaps: the more confident
        one wins) and argmax unary ops."""
        conf, op = outputs["gap_logits"].softmax(-1).max(-1)
        steps = [({}, {}) for _ in range(n)]
        gap_b = batch["gap_b"].tolist()
        first = {}
        for g, b in enumerate(gap_b):
            first.setdefault(b, g)
        candidates = [(float(conf[g]), b, g - first[b], BINARY_OPS[int(op[g])]) for g, b in enumerate(gap_b)
                      if int(op[g]) != BINARY_ID["none"]]
        for _, b, k, o in sorted(candidates, key=lambda c: -c[0]):
            gaps = steps[b][0]
            if k - 1 not in gaps and k + 1 not in gaps:
                gaps[k] = o
        slot_b = batch["slot_b"].tolist()
        firsts = {}
        for s, b in enumerate(slot_b):
            firsts.setdefault(b, s)
        for s, (b, u) in enumerate(zip(slot_b, outputs["slot_logits"].argmax(-1).tolist())):
            if u != UNARY_ID["keep"]:
                steps[b][1][s - firsts[b]] = UNARY_OPS[u]
        # A slot with both a unary and a binary op: the unary op first, the binary op at a later step.
        for gaps, unary in steps:
            for k in [k for k in gaps if k in unary or k + 1 in unary]:
                del gaps[k]
        return steps

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[str]:
        """Answers from raw text: the network steps, the FluxEM executor reduces, until no step is left."""
        was_training = self.training
        self.eval()
        try:
            if self.readout == "regression":
                return self._predict_regression(texts)
            return self._predict_steps(texts)
        finally:
            self.train(was_training)

    def _readable(self, texts: list[str]) -> list:
        """Each text's initial state, or None for a text the model cannot read (see "Input limits")."""
        states = []
        for text in texts:
            try:
                states.append(initial_state(text, self.task))
            except (ValueError, OverflowError):
                states.append(None)
        return states

    def _predict_steps(self, texts: list[str]) -> list[str]:
        states = self._readable(texts)
        answers: list[str | None] = ["" if s is None else None for s in states]  # "": cannot be read
        formats: list[str | None] = [None] * len(texts)
        active = [i for i in range(len(texts)) if answers[i] is None]
        for n_step in range(MAX_STEPS):
            for i in [i for i in active if not states[i][1]]:
                answers[i] = ""  # nothing to compute with in the question
            active = [i for i in active if answers[i] is None]
            if not active:
                break
            decisions = {}
            by_length = sorted(active, key=lambda i: len(states[i][0]))
            for group in token_groups([len(states[i][0]) for i in by_length], max_items=PREDICT_CHUNK):
                chunk = [by_length[g] for g in group]
                batch = self._batch([(states[i][0], self._features(states[i][1])) for i in chunk])
                outputs, _ = self.forward(batch)
                if n_step == 0 and self.task.formats:
                    for j, i in enumerate(chunk):
                        formats[i] = self.task.formats[int(outputs["format_logits"][j].argmax())]
                decisions.update(zip(chunk, self.decide(outputs, batch, len(chunk))))
            still = []
            for i in active:
                gaps, unary = decisions[i]
                ids, values = states[i]
                if not gaps and not unary:
                    answers[i] = self._answer(values, formats[i])
                    continue
                try:
                    answer_slot = terminal_slot(gaps, unary)
                    states[i] = run_step(ids, values, gaps, unary, self._run_op)
                except (StepError, ValueError, ZeroDivisionError, OverflowError):
                    answers[i] = ""
                    continue
                if answer_slot is not None:  # terminal: that slot is the answer
                    answers[i] = self._answer([states[i][1][answer_slot]], formats[i])
                    continue
                still.append(i)
            active = still
        return ["" if a is None else a for a in answers]

    def _run_op(self, op: str, *args: Value) -> Value:
        """One instruction at inference: the executor, or with the pointer readout the value heads for an
        instruction that compares values (fxlab/models/pointer.py)."""
        if self.value_heads is None:
            return execute(op, *args)
        return self.value_heads.apply(self.embed_values, op, *args)

    def _answer(self, values: list[Value], fmt: str | None) -> str:
        if len(values) != 1:
            return ""
        try:
            return self.task.answer(values[0], fmt)
        except (StepError, ValueError, ZeroDivisionError, OverflowError):
            return ""

    def _predict_regression(self, texts: list[str]) -> list[str]:
        states = self._readable(texts)
        readable = [i for i, s in enumerate(states) if s is not None]
        out = [""] * len(texts)
        for group in token_groups([len(states[i][0]) for i in readable], max_items=PREDICT_CHUNK):
            chosen = [readable[g] for g in group]
            batch = self._batch([(states[i][0], self._features(states[i][1])) for i in chosen])
            outputs, _ = self.forward(batch)
            for i, (sign_logit, mag) in zip(chosen, outputs["value"].double().tolist()):
                magnitude = 10.0 ** min(max(mag, 0.0), 300.0) - 1.0
                out[i] = str(int(round(-magnitude if sign_logit > 0 else magnitude)))
        return out

    def predict_steps(self, texts: list[str]) -> list[tuple[dict[int, str], dict[int, str]]]:
        """The network's first step for each question (for inspection and guard (b))."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            states = [initial_state(t, self.task) for t in texts]
            batch = self._batch([(ids, self._features(values)) for ids, values in states])
            outputs, _ = self.forward(batch)
            steps = self.decide(outputs, batch, len(texts))
        self.train(was_training)
        return steps


def build(cfg: Config) -> HybridModel:
    """A fresh hybrid. The fone and xval slot embeddings fit their digit count / value scale on the
    training split when it exists (as the FoNE and xVal models do); eval.py loads the saved ones."""
    mc = cfg.model
    if mc.slot_embedding == "fone" and not mc.fone_int_digits:
        from fxlab.models.fone import fit_int_digits

        mc = dataclasses.replace(mc, fone_int_digits=_fit(cfg, fit_int_digits, DEFAULT_FONE_INT_DIGITS))
    model = HybridModel(mc, get_task(cfg.task))
    if mc.slot_embedding == "xval":
        from fxlab.models.xval import fit_scale

        model.slot_embedding.value_scale.fill_(_fit(cfg, fit_scale, 1.0))
    return model


def _fit(cfg: Config, fit, default):
    try:
        return fit(load_split(cfg, "train"))
    except UserError:
        return default
