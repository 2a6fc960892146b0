"""The hybrid for real arithmetic text (task `mathds`): iterative reduction over FluxEM slots (docs/design.md §5.2).

A question such as "What is -172 + 186 - (3 - (-19 - -5))?" is the hybrid's usual mixed sequence: BOS,
characters, one SLOT per number span (its FluxEM vector), EOS. The network looks at the sequence and
decides the next step, a small program for the executor:

- for every pair of adjacent slots (k, k+1), a *gap op*: `none`, or the operation that combines those two
  numbers now (`+ - * /`, `rsub` = b - a for "Subtract a from b", `dist` = |a - b|);
- for every slot, a *slot op*: `keep`; `unwrap` (the slot is a lone number in parentheses: drop the two
  tokens around it); or `root2` ... `root10` ("the cube root of x to the nearest integer"), a terminal
  instruction whose result is the answer.

The executor (`step`) carries the step out with FluxEM operators on the slot vectors: each reduced
stretch of tokens, from the left slot to the right slot, becomes ONE new slot holding the FluxEM vector
of the result. The network then runs again on the shorter sequence, until it predicts no action; the
answer is the one slot left, decoded exactly (`NumberEncoder.decode_exact`) and written in the form
the network chose at the first step (`format` head: decimal or fraction; integers are integers).

Why this design: every decision is local (an operator and its neighbours), so an expression with more
operations or deeper nesting than any training example is just more of the same local steps - length
and depth generalization by construction - and intermediate results enter the network as FluxEM
embeddings of values it has never seen in text, which is the FluxEM claim itself. The attention is the
hybrid's local windowed attention (`fxlab.hybrid.Block`), with no absolute positions.

Nothing here reads the question text: the only path from text to structure is the network. Training
targets come from a teacher (`fxlab.mathds_oracle`, imported only by `collate`), which sees each
training state's text and says which steps are valid.

Input limits: those of the hybrid (fxlab.hybrid, "Input limits"). A question longer than MAX_INPUT_CHARS
characters, or with a span FluxEM cannot encode, gets the answer "" without being read, and
each step's batch keeps B x T^2 within MAX_BATCH_CELLS as well as PREDICT_CHUNK questions.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
from fluxem import layout as FL
from fluxem.nn import TYPE_IDS, FluxEMEmbedding, span_vectors
from fxlab.config import Config, ModelConfig
from fxlab.hybrid import IGNORE, MAX_INPUT_CHARS, PAD, SLOT, VOCAB_SIZE, Block, slot_sequence, token_groups
from fxlab.token_model import BOS, CHAR_TO_ID, EOS

GAP_OPS = ("none", "+", "-", "rsub", "*", "/", "dist", "root")  # root: a ** b, b = 1/k, to the nearest integer
GAP_ID = {op: i for i, op in enumerate(GAP_OPS)}
ROOT_ORDERS = tuple(range(2, 11))
SLOT_OPS = ("keep", "unwrap") + tuple(f"root{k}" for k in ROOT_ORDERS)  # root<k>: terminal
SLOT_ID = {op: i for i, op in enumerate(SLOT_OPS)}
FORMATS = ("fraction", "decimal")  # how a non-integer answer is written: "p/q" or an exact decimal
MAX_STEPS = 64  # a question not finished after this many steps gets the answer ""
# States differ a lot in length (a question shrinks as it is reduced), so a batch is run in buckets of
# similar length: less padding, the same result.
TRAIN_BUCKETS = 3
PREDICT_CHUNK = 64

_numbers = fluxem.NumberEncoder()


class StepError(ValueError):
    """The predicted step cannot be carried out (e.g. overlapping operations); the answer is ""."""


# ----------------------------------------------------------------------------- states and the executor


def number_spans(text: str) -> list:
    """The number spans of a question (the reducer computes with numbers only)."""
    return [s for s in fluxem.detect_spans(text) if s.kind == "number"]


def initial_state(text: str, spans: list | None = None) -> tuple[list[int], list[np.ndarray]]:
    """(ids, slot vectors) of a question: BOS, characters with SLOT for each number span, EOS.
    `spans`: the question's `number_spans`, when the caller already has them."""
    spans = number_spans(text) if spans is None else spans
    ids, _, _ = slot_sequence(text, spans)
    return ids, list(span_vectors(spans)) if spans else []


def apply_op(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One gap op on two FluxEM number vectors, with FluxEM operators."""
    if op == "+":
        return _numbers.add(a, b)
    if op == "-":
        return _numbers.sub(a, b)
    if op == "rsub":
        return _numbers.sub(b, a)
    if op == "*":
        return _numbers.mul(a, b)
    if op == "/":
        return _numbers.div(a, b)
    if op == "dist":
        d = _numbers.sub(a, b)
        return _numbers.mul(d, _numbers.encode(-1)) if _numbers.decode(d) < 0 else d
    if op == "root":
        inverse = _numbers.decode_exact(b)  # the exponent 1/k
        if inverse <= 0 or (1 / Fraction(inverse)).denominator != 1:
            raise StepError(f"root: exponent {inverse} is not 1/k")
        return nearest_root(a, int(1 / Fraction(inverse)))
    raise StepError(f"unknown op {op!r}")


def nearest_root(a: np.ndarray, k: int) -> np.ndarray:
    """The integer nearest to the real k-th root of a non-negative exact integer, as a FluxEM vector.

    The log channel gives the estimate (exp(ln a / k)); exact integer comparisons settle it: n is the
    nearest integer iff (2n - 1)^k <= 2^k a < (2n + 1)^k.

    >>> int(_numbers.decode_exact(nearest_root(_numbers.encode(2003429123), 3)))
    1261
    """
    if not _numbers.is_exact(a):
        raise StepError("root of an inexact value")
    x = _numbers.decode_exact(a)
    if Fraction(x).denominator != 1 or x < 0 or k < 1:
        raise StepError(f"root of {x}: needs a non-negative integer")
    x = int(x)
    n = 0 if x == 0 else max(0, round(float(np.exp(a[FL.LOG_MAG] / k))))
    target = (2**k) * x
    while n > 0 and (2 * n - 1) ** k > target:
        n -= 1
    while (2 * n + 1) ** k <= target:
        n += 1
    return _numbers.encode(n)


def step(ids: list[int], slots: list, gaps: dict[int, str], slot_ops: dict[int, str], apply=apply_op,
         apply_root=nearest_root):
    """Carry out one step: the slot ops {slot k: op} (unwrap, root<k>), then each gap op {left slot k: op},
    all at once.

    `slots` holds one payload per SLOT in `ids` (FluxEM vectors; `apply` combines two payloads,
    `apply_root` takes one payload and k). Returns the new (ids, slots). A root<k> slot op is terminal:
    the caller reads the answer from it. Raises StepError for a step that cannot be carried out.

    >>> ids = [BOS, SLOT, CHAR_TO_ID["+"], SLOT, EOS]
    >>> step(ids, [1, 2], {0: "+"}, {}, apply=lambda op, a, b: a + b)
    ([1, 85, 3], [3])
    """
    positions = [p for p, t in enumerate(ids) if t == SLOT]
    if len(positions) != len(slots):
        raise StepError("state has a different number of slots and payloads")
    slots = list(slots)
    delete = set()
    for k, op in slot_ops.items():
        if not 0 <= k < len(slots):
            raise StepError(f"{op} of slot {k} of {len(slots)}")
        if op.startswith("root"):
            slots[k] = apply_root(slots[k], int(op[4:]))
            continue
        if op != "unwrap":
            raise StepError(f"unknown slot op {op!r}")
        p = positions[k]
        for q in (p - 1, p + 1):
            if ids[q] in (SLOT, BOS, EOS):
                raise StepError(f"unwrap of slot {k} would delete a slot or an edge")
            delete.add(q)
    if delete:
        ids = [t for p, t in enumerate(ids) if p not in delete]
        positions = [p for p, t in enumerate(ids) if t == SLOT]
    used = set()
    for k in gaps:
        if k < 0 or k + 1 >= len(slots) or k in used or k + 1 in used:
            raise StepError(f"gap op on slots {k}, {k + 1} overlaps another or does not exist")
        used |= {k, k + 1}
    if not gaps:
        return ids, list(slots)
    new_ids, new_slots, p, k = [], [], 0, 0
    while p < len(ids):
        if ids[p] == SLOT:
            if k in gaps:
                new_ids.append(SLOT)
                new_slots.append(apply(gaps[k], slots[k], slots[k + 1]))
                p = positions[k + 1] + 1
                k += 2
                continue
            new_slots.append(slots[k])
            k += 1
        new_ids.append(ids[p])
        p += 1
    return new_ids, new_slots


def format_answer(value: int | Fraction, fmt: str) -> str:
    """The dataset's written form: an integer; else an exact decimal (when `fmt` is "decimal" and the
    value has one) or a reduced fraction with the sign on the numerator.

    >>> format_answer(Fraction(-571713169, 100000), "decimal"), format_answer(Fraction(409052, 5), "fraction")
    ('-5717.13169', '409052/5')
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    if fmt == "decimal":
        den, twos, fives = value.denominator, 0, 0
        while den % 2 == 0:
            den, twos = den // 2, twos + 1
        while den % 5 == 0:
            den, fives = den // 5, fives + 1
        if den == 1:
            places = max(twos, fives)
            scaled = abs(value.numerator) * (10**places // value.denominator)
            digits = str(scaled).rjust(places + 1, "0")
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return f"{value.numerator}/{value.denominator}"


# ----------------------------------------------------------------------------- the network


def _features(vectors: list) -> np.ndarray:
    """(S, N_FEATURES) float32: the network features of S slot vectors, all the network reads of them."""
    if not len(vectors):
        return np.zeros((0, FL.N_FEATURES), np.float32)
    return np.stack(vectors)[:, FL.FEATURES].astype(np.float32)


def _mean_between(csum: torch.Tensor, b: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Mean hidden state of the tokens strictly between positions left and right of rows b (zeros if
    none), from csum (B, T+1, C), the cumulative sum of h with a leading zero row."""
    count = (right - left - 1).clamp(min=1).unsqueeze(-1).to(csum.dtype)
    return (csum[b, right] - csum[b, left + 1]) / count


class ReductionHybrid(nn.Module):
    def __init__(self, mc: ModelConfig):
        super().__init__()
        if mc.hidden_dim % mc.num_heads:
            raise ValueError(f"model.hidden_dim {mc.hidden_dim} is not divisible by model.num_heads {mc.num_heads}")
        C = mc.hidden_dim
        self.char_embedding = nn.Embedding(VOCAB_SIZE, C)
        self.slot_embedding = FluxEMEmbedding(C)
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(C)
        # Heads read the decision's immediate neighbourhood directly (the tokens just outside it), so the
        # local rule (an operator's neighbours, a parenthesis on each side) does not have to be carried
        # through the attention layers.
        self.gap_head = nn.Sequential(nn.Linear(7 * C, C), nn.GELU(), nn.Linear(C, len(GAP_OPS)))
        self.slot_head = nn.Sequential(nn.Linear(7 * C, C), nn.GELU(), nn.Linear(C, len(SLOT_OPS)))
        self.format_head = nn.Linear(C, len(FORMATS))
        self._train_states: dict[str, list] = {}  # record text -> its teacher-forced states (training only)

    # -- tensors

    def _batch(self, states: list[tuple[list[int], list]]) -> dict:
        """states [(ids, slot vectors)] -> padded tensors + gap/slot index tensors.

        Slot vectors are FluxEM vectors (S, 128), or just their network features (S, N_FEATURES) as
        stored for training states (`_states_of`): the network reads nothing else."""
        device = self.char_embedding.weight.device
        B, T = len(states), max(len(ids) for ids, _ in states)
        ids = torch.full((B, T), PAD, dtype=torch.long)
        vectors = torch.zeros((B, T, fluxem.EMBED_DIM), dtype=torch.float32)
        slot_b, slot_p, gap_b, gap_l, gap_r = [], [], [], [], []
        for b, (tok, vecs) in enumerate(states):
            ids[b, : len(tok)] = torch.tensor(tok, dtype=torch.long)
            pos = [p for p, t in enumerate(tok) if t == SLOT]
            if pos:
                rows = np.asarray(vecs if isinstance(vecs, np.ndarray) else np.stack(vecs))
                rows = rows[:, FL.FEATURES] if rows.shape[1] == fluxem.EMBED_DIM else rows
                vectors[b, pos, FL.FEATURES] = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
            slot_b += [b] * len(pos)
            slot_p += pos
            gap_b += [b] * max(0, len(pos) - 1)
            gap_l += pos[:-1]
            gap_r += pos[1:]
        types = torch.where(ids == SLOT, TYPE_IDS["number"], TYPE_IDS["text"])
        as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
        return {"ids": ids.to(device), "types": types.to(device), "vectors": vectors.to(device),
                "pad": (ids == PAD).to(device), "slot_b": as_long(slot_b), "slot_p": as_long(slot_p),
                "gap_b": as_long(gap_b), "gap_l": as_long(gap_l), "gap_r": as_long(gap_r)}

    def encode(self, batch: dict) -> torch.Tensor:
        ids = batch["ids"]
        is_slot = (ids == SLOT)[..., None]  # (B, T, 1)
        x = torch.where(is_slot, self.slot_embedding(batch["vectors"], batch["types"]), self.char_embedding(ids))
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
        return {"parts": [out for out, _ in results]}, loss

    def _forward_part(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        h = self.encode(batch)  # (B, T, C)
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
        gap_logits = self.gap_head(gap_in)  # (G, n_gap_ops)
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
        slot_in = torch.cat(neighbours + stretches, dim=-1)  # (S, 7C)
        slot_logits = self.slot_head(slot_in)  # (S, n_slot_ops)
        keep = (~batch["pad"]).unsqueeze(-1).to(h.dtype)
        format_logits = self.format_head((h * keep).sum(1) / keep.sum(1).clamp(min=1.0))  # (B, 2)
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
        """Teacher-forced states of one training record: [(ids, slots, gaps, slot ops, format or None)]."""
        text = record["text"]
        if len(text) > MAX_INPUT_CHARS:
            raise ValueError(f"a question of {len(text)} characters; the reducer reads at most {MAX_INPUT_CHARS} "
                             "(fxlab.hybrid.MAX_INPUT_CHARS)")
        if text not in self._train_states:
            from fxlab.mathds_oracle import teacher_states  # training only: the teacher parses text

            # Keep only what training reads: the slots' network features, float32 (144 bytes a slot
            # instead of 1 KB, so the ~600k states of mathds_full fit in memory).
            self._train_states[text] = [(ids, _features(vectors), gaps, slot_ops, fmt)
                                        for ids, vectors, gaps, slot_ops, fmt in teacher_states(text, record["target"])]
        return self._train_states[text]

    def collate(self, records: list[dict]) -> dict:
        """Every teacher-forced state of the records, in TRAIN_BUCKETS buckets of similar length."""
        states = [s for r in records for s in self._states_of(r)]
        if not states:
            # Every record of this batch was left out by the teacher: one unlabelled state, which adds
            # nothing to the loss (its labels are all IGNORE).
            ids, vectors = initial_state(records[0]["text"])
            states = [(ids, _features(vectors), None, None, None)]
        order = sorted(range(len(states)), key=lambda i: len(states[i][0]))
        n = min(TRAIN_BUCKETS, len(order))
        bounds = [len(order) * k // n for k in range(n + 1)]
        return {"parts": [self._labelled_batch([states[i] for i in order[a:b]]) for a, b in zip(bounds, bounds[1:])]}

    def _labelled_batch(self, states: list[tuple]) -> dict:
        batch = self._batch([(ids, slots) for ids, slots, *_ in states])
        gap_t, slot_t, fmt_t = [], [], []
        for ids, slots, gaps, slot_ops, fmt in states:
            gap_t += [IGNORE if gaps is None else GAP_ID[gaps.get(k, "none")] for k in range(len(slots) - 1)]
            slot_t += [IGNORE if slot_ops is None else SLOT_ID[slot_ops.get(k, "keep")] for k in range(len(slots))]
            fmt_t.append(IGNORE if fmt is None else FORMATS.index(fmt))
        device = self.char_embedding.weight.device
        batch.update(gap_targets=torch.tensor(gap_t, dtype=torch.long, device=device),
                     slot_targets=torch.tensor(slot_t, dtype=torch.long, device=device),
                     format_targets=torch.tensor(fmt_t, dtype=torch.long, device=device))
        return batch

    # -- inference

    def decide(self, outputs: dict, batch: dict, n: int) -> list[tuple[dict[int, str], dict[int, str]]]:
        """The network's step for each of the n states: argmax gap ops (overlaps: the more confident
        one wins) and argmax slot ops."""
        gap_p = outputs["gap_logits"].softmax(-1)
        conf, op = gap_p.max(-1)
        steps = [({}, {}) for _ in range(n)]
        gap_b = batch["gap_b"].tolist()
        first = {}
        for g, b in enumerate(gap_b):
            first.setdefault(b, g)
        candidates = [(float(conf[g]), b, g - first[b], GAP_OPS[int(op[g])]) for g, b in enumerate(gap_b)
                      if int(op[g]) != GAP_ID["none"]]
        for _, b, k, o in sorted(candidates, key=lambda c: -c[0]):
            gaps = steps[b][0]
            if k - 1 not in gaps and k + 1 not in gaps:
                gaps[k] = o
        slot_b = batch["slot_b"].tolist()
        firsts = {}
        for s, b in enumerate(slot_b):
            firsts.setdefault(b, s)
        for s, (b, u) in enumerate(zip(slot_b, outputs["slot_logits"].argmax(-1).tolist())):
            if u != SLOT_ID["keep"]:
                steps[b][1][s - firsts[b]] = SLOT_OPS[u]
        # A slot with both a slot op and a gap op: the slot op first, the gap op at a later step.
        for gaps, slot_ops in steps:
            for k in [k for k in gaps if k in slot_ops or k + 1 in slot_ops]:
                del gaps[k]
        return steps

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[str]:
        """Answers from raw text: the network steps, the FluxEM executor reduces, until no step is left."""
        was_training = self.training
        self.eval()
        states: list = []
        for text in texts:
            try:
                states.append(initial_state(text) if len(text) <= MAX_INPUT_CHARS else None)
            except (ValueError, OverflowError):  # a span FluxEM cannot encode
                states.append(None)
        answers: list[str | None] = ["" if s is None else None for s in states]  # "": cannot be read
        formats = ["fraction"] * len(texts)
        active = [i for i in range(len(texts)) if answers[i] is None]
        for n_step in range(MAX_STEPS):
            if not active:
                break
            for i in [i for i in active if not states[i][1]]:
                answers[i] = ""  # no number in the question
            active = [i for i in active if answers[i] is None]
            if not active:
                break
            decisions = {}
            by_length = sorted(active, key=lambda i: len(states[i][0]))
            for group in token_groups([len(states[i][0]) for i in by_length], max_items=PREDICT_CHUNK):
                chunk = [by_length[g] for g in group]
                batch = self._batch([states[i] for i in chunk])
                outputs, _ = self.forward(batch)
                if n_step == 0:
                    for j, i in enumerate(chunk):
                        formats[i] = FORMATS[int(outputs["format_logits"][j].argmax())]
                decisions.update(zip(chunk, self.decide(outputs, batch, len(chunk))))
            still = []
            for i in active:
                gaps, slot_ops = decisions[i]
                ids, slots = states[i]
                if not gaps and not slot_ops:
                    answers[i] = self._answer(slots, formats[i])
                    continue
                try:
                    states[i] = step(ids, slots, gaps, slot_ops)
                except (StepError, ValueError, ZeroDivisionError, OverflowError):
                    answers[i] = ""
                    continue
                roots = [k for k, op in slot_ops.items() if op.startswith("root")]
                if roots:  # terminal: the rooted slot is the answer
                    answers[i] = self._answer([states[i][1][roots[0]]], formats[i]) if len(roots) == 1 else ""
                    continue
                still.append(i)
            active = still
        self.train(was_training)
        return ["" if a is None else a for a in answers]

    @staticmethod
    def _answer(slots: list, fmt: str) -> str:
        if len(slots) != 1 or not _numbers.is_exact(slots[0]):
            return ""
        return format_answer(_numbers.decode_exact(slots[0]), fmt)


def build(cfg: Config) -> ReductionHybrid:
    return ReductionHybrid(cfg.model)
