"""xVal (Golkar et al. 2023, "xVal: A Continuous Number Encoding for Large Language Models"), model "xval".

The nearest published peer of the hybrid: numbers enter the network as ONE token whose embedding is
scaled by the value, and leave it through a regression head.

Input. `fluxem.detect_spans(text)` finds the numbers (so xVal sees exactly the numbers the hybrid sees).
Each number becomes one `[NUM]` token; every other character is a character token (the token baseline's
fixed vocabulary). The input embedding of position t is `wte[id_t] * m_t`, where m_t = 1 for a character
and m_t = the number's normalized value (below) for `[NUM]`. A quantity span ("3.5 km") gives `[NUM]` for
its leading number literal and character tokens for the rest (" km"), as xVal's own preprocessing does
(it replaces number literals, not units). So "convert 3.5 km to m" is [c][o]...[ ][NUM][ ][k][m][ ][t][o][ ][m].

Output. A decoder writes the answer: BOS + question + SEP + answer + EOS, loss on the answer only (as the
token baseline). Two heads read the final hidden state h_t: the token head (cross-entropy on the next
token) and the number head, an MLP C -> 4C -> 1 (as in the paper's code), which regresses the normalized
value of the next token wherever that token is `[NUM]` (mean-squared error at those positions only). The
training loss is CE + MSE. At inference, greedy decoding: when the token head picks `[NUM]`, the number
head's output at that step is its value, and `[NUM]` is fed back scaled by it. An arithmetic answer is
therefore `[NUM] EOS`; "3500 m" is `[NUM] [ ] [m] EOS`; "true" is four character tokens.

Value normalization (the paper scales each dataset's values into [-5, 5]). Here: m = 5 * v / S, where S is
the largest |v| of any number in the training split (questions and answers; `fit_scale`), computed when
the model is built for training and saved in the checkpoint (buffer `value_scale`), so evaluation uses the
training scale. Every training value therefore lies in [-5, 5]. Values outside the training range (OOD
magnitudes) would grow m without bound; m is clipped to [-INPUT_CLIP, INPUT_CLIP] = [-50, 50] (ten times
the training range), for the input multiplier, the regression target and the regressed output alike, so
no input can blow up activations (a value 10x beyond the largest training value saturates; an
astronomically large literal is clipped, never inf/NaN). The predicted value is m_hat * S / 5.

`model.xval_scaling: log` is a variant, NOT the paper: m = 5 * sign(v) * log10(1 + |v|) / log10(1 + S)
(same S, same clip; the value is recovered by the inverse). It gives xVal the dynamic range that max-abs
scaling lacks (single-digit operands next to 10^6 products) and turns products into sums of embedding
scales. It is reported as a separate, favourable-to-xVal column; the default "linear" is the paper's.

Written form. Exact match needs the answer string, so the regressed value is rounded the way the task
writes its targets: arithmetic -> the nearest integer (`str(round(v))`); units -> `fluxem.format_value`
(six significant digits). `median_rel_error` (eval.py) measures how close the regression is.

Departures from the paper, each for a reason:
- Backbone: the token baseline's causal decoder (pre-LN blocks with rotary positions, `token_model.Block`)
  instead of the paper's bidirectional encoder with learned absolute positions and masked-language-model
  pretraining: our tasks are question -> generated answer, and sharing the baseline's backbone makes the
  comparison about the number encoding alone. Rotary positions add nothing to the token embedding, so
  the value scale of `[NUM]` reaches the first layer intact (in the paper a learned position vector is
  added to the scaled embedding).
- Loss on the answer only (the paper's MLM loss covers masked tokens anywhere); numbers in the question
  are inputs, as for every model here.
- The token head is a linear layer tied to the input embedding (as the token baseline), not the paper's MLP.
- Normalization: max-abs scaling per dataset into [-5, 5] plus the clip above (the paper does not clip;
  its datasets have no out-of-range test split). With this scaling a dataset with a wide dynamic range
  (products up to 10^6 next to single-digit operands) squeezes small numbers near 0: that is xVal's
  documented limitation, measured, not worked around.
- Numbers are found by `fluxem.detect_spans` instead of the paper's regex (same numbers as the hybrid).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
from fxlab import UserError
from fxlab.config import Config, ModelConfig
from fxlab.data import load_split
from fxlab.models.token_model import BOS, CHAR_TO_ID, EOS, IGNORE, PAD, SEP, UNK, VOCAB, Block, decode, rope_tables

NUM = len(VOCAB)  # the [NUM] token id, after the token baseline's vocabulary
VOCAB_SIZE = NUM + 1
SCALE_RANGE = 5.0  # training values map into [-5, 5] (the paper's range)
INPUT_CLIP = 50.0  # normalized values are clipped to [-50, 50]: ten times the training range

# The number literal that starts a quantity span ("3.5 km", "1.5e+06 km", "1,500 m").
_NUMBER_PREFIX = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _as_float(value) -> float:
    """float(value); an int beyond the float range becomes +-inf (clipped later), never an error."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def segment(text: str) -> tuple[list[int], list[float]]:
    """Token ids of `text` with one NUM per number, and each token's raw value (0.0 for a character).

    >>> ids, values = segment("12 + 7")
    >>> ids == [NUM, CHAR_TO_ID[" "], CHAR_TO_ID["+"], CHAR_TO_ID[" "], NUM], values
    (True, [12.0, 0.0, 0.0, 0.0, 7.0])
    """
    ids, values, cursor = [], [], 0

    def chars(s: str) -> None:
        ids.extend(CHAR_TO_ID.get(c, UNK) for c in s)
        values.extend(0.0 for _ in s)

    for span in fluxem.detect_spans(text):
        if span.kind in ("unit", "ordinal", "place") or span.value is None:
            continue  # a bare unit, an ordinal word ("third") and a place name ("tens") are text
        chars(text[cursor : span.start])
        ids.append(NUM)
        values.append(_as_float(span.value))
        literal = _NUMBER_PREFIX.match(span.text) if span.kind == "quantity" else None
        # The unit after a quantity's number stays text; a quantity with no plain literal ("$2.1bn m") is one NUM.
        cursor = span.start + literal.end() if literal else span.end
    chars(text[cursor:])
    return ids, values


def fit_scale(records: list[dict]) -> float:
    """S: the largest |value| of any number in the records' texts and targets (1.0 if all are 0).

    >>> fit_scale([{"text": "3 + 4", "target": "7"}, {"text": "2 * -50", "target": "-100"}])
    100.0
    """
    biggest = 0.0
    for r in records:
        for text in (r["text"], r["target"]):
            for v in segment(text)[1]:
                if math.isfinite(v):
                    biggest = max(biggest, abs(v))
    return biggest if biggest > 0 else 1.0


class XValModel(nn.Module):
    """forward(batch) -> ({"logits", "num"}, loss); collate(records) -> batch; predict(texts) -> answers."""

    def __init__(self, mc: ModelConfig, task: str):
        super().__init__()
        self.task, self.max_seq_len, self.scaling = task, mc.max_seq_len, mc.xval_scaling
        C = mc.hidden_dim
        self.wte = nn.Embedding(VOCAB_SIZE, C)
        self.drop = nn.Dropout(mc.dropout)
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, VOCAB_SIZE, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as the token baseline
        self.num_head = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, 1))
        # S of `fit_scale` on the training split; saved with the weights so eval uses the training scale.
        self.register_buffer("value_scale", torch.tensor(1.0, dtype=torch.float64))
        cos, sin = rope_tables(mc.max_seq_len, C // mc.num_heads)
        self.register_buffer("rope_cos", cos, persistent=False)  # (T_max, hd/2)
        self.register_buffer("rope_sin", sin, persistent=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * mc.num_layers))

    # ---------------------------------------------------------------- values

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        """Raw values (float64) -> m, clipped to [-INPUT_CLIP, INPUT_CLIP] (inf too), float32.
        linear: m = 5 * v / S; log: m = 5 * sign(v) * log10(1 + |v|) / log10(1 + S)."""
        v = values.double().nan_to_num(0.0)  # +-inf -> +-float64 max, clipped below
        if self.scaling == "log":
            m = SCALE_RANGE * v.sign() * torch.log10(1 + v.abs()) / math.log10(1 + float(self.value_scale))
        else:
            m = SCALE_RANGE * v / self.value_scale
        return m.clamp(-INPUT_CLIP, INPUT_CLIP).float()

    def denormalize(self, m: float) -> float:
        """The inverse of `normalize` (inf where the value exceeds the float range)."""
        m, S = float(m), float(self.value_scale)
        if self.scaling == "log":
            try:
                return math.copysign(10 ** (abs(m) * math.log10(1 + S) / SCALE_RANGE) - 1, m)
            except OverflowError:
                return math.copysign(math.inf, m)
        return m * S / SCALE_RANGE

    def format_value(self, value: float) -> str:
        """The written form of a regressed value: an integer for arithmetic, format_value for units."""
        if not math.isfinite(value):
            return ""
        return str(round(value)) if self.task == "arithmetic" else fluxem.format_value(value)

    # ---------------------------------------------------------------- network

    def hidden(self, idx: torch.Tensor, mult: torch.Tensor, pos: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, caches: list[dict] | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of ids (B, T) with embedding multipliers mult (B, T)."""
        if pos is None:
            T = idx.shape[1]
            cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        else:
            cos, sin = self.rope_cos[pos].unsqueeze(1), self.rope_sin[pos].unsqueeze(1)  # (B, 1, T, hd/2)
        x = self.drop(self.wte(idx) * mult.unsqueeze(-1))  # (B, T, C): xVal's scaled [NUM] embedding
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, caches[i] if caches is not None else None)
        return self.ln_f(x)  # (B, T, C)

    def forward(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        h = self.hidden(batch["idx"], batch["mult"])  # (B, T, C)
        outputs = {"logits": self.lm_head(h), "num": self.num_head(h).squeeze(-1)}  # (B, T, V), (B, T)
        targets = batch.get("targets")
        if targets is None:
            return outputs, None
        logits = outputs["logits"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
        at_num = batch["num_mask"]  # (B, T): the next token is an answer [NUM]
        if bool(at_num.any()):
            loss = loss + F.mse_loss(outputs["num"][at_num], batch["num_targets"][at_num])
        return outputs, loss

    def collate(self, records: list[dict]) -> dict:
        """Training batch: ids, multipliers, next-token targets (answer + EOS) and number targets."""
        seqs, vals, starts = [], [], []
        for r in records:
            q_ids, q_vals = segment(r["text"])
            a_ids, a_vals = segment(r["target"])
            seq = [BOS] + q_ids + [SEP] + a_ids + [EOS]
            if len(seq) > self.max_seq_len:
                raise UserError(f"record {r.get('id')} needs {len(seq)} tokens but model.max_seq_len is "
                                f"{self.max_seq_len}; raise model.max_seq_len")
            seqs.append(seq)
            vals.append([0.0] + q_vals + [0.0] + a_vals + [0.0])
            starts.append(len(q_ids) + 1)  # index of SEP: its next-token target is the first answer token
        B, T = len(seqs), max(len(s) for s in seqs) - 1
        idx = torch.full((B, T), PAD, dtype=torch.long)  # (B, T)
        raw = torch.zeros((B, T + 1), dtype=torch.float64)  # (B, T+1) raw values of the whole sequence
        targets = torch.full((B, T), IGNORE, dtype=torch.long)  # (B, T)
        for b, (seq, v, start) in enumerate(zip(seqs, vals, starts)):
            idx[b, : len(seq) - 1] = torch.tensor(seq[:-1])
            raw[b, : len(seq)] = torch.tensor(v, dtype=torch.float64)
            targets[b, start : len(seq) - 1] = torch.tensor(seq[start + 1 :])
        mult = torch.where(idx == NUM, self.normalize(raw[:, :-1]), torch.ones(B, T))  # (B, T)
        num_mask = targets == NUM  # (B, T): answer positions whose next token is [NUM]
        device = self.wte.weight.device
        batch = {"idx": idx, "mult": mult, "targets": targets, "num_mask": num_mask,
                 "num_targets": self.normalize(raw[:, 1:])}
        return {k: v.to(device) for k, v in batch.items()}

    # ---------------------------------------------------------------- inference

    def predict(self, texts: list[str]) -> list[str]:
        """Greedy answers from raw text; each generated [NUM] is written as its regressed value."""
        return predict_with_numbers(self, texts, lambda m: self.format_value(self.denormalize(m)))

    def _greedy(self, prompts: list[tuple[list[int], list[float]]]) -> list[list[tuple[int, float]]]:
        """(token, normalized value) pairs of each answer (EOS excluded); KV-cached, left-padded batch."""
        device = self.wte.weight.device
        idx, raw, lengths, valid, pos, mask = left_padded(prompts, device)
        B, L = idx.shape
        mult = torch.where(idx == NUM, self.normalize(raw), torch.ones(B, L, device=device))  # (B, L)
        caches: list[dict] = [{} for _ in self.blocks]
        h = self.hidden(idx, mult, pos, mask, caches)[:, -1]  # (B, C)
        out: list[list[tuple[int, float]]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
        next_pos = lengths.clone()  # (B,) position of the token about to be generated
        for _ in range(self.max_seq_len - int(lengths.min())):
            nxt = self.lm_head(h).argmax(dim=-1)  # (B,)
            m = self.num_head(h).squeeze(-1).clamp(-INPUT_CLIP, INPUT_CLIP)  # (B,) value if nxt is [NUM]
            for b in range(B):
                if not done[b] and int(nxt[b]) != EOS:
                    out[b].append((int(nxt[b]), float(m[b])))
            done |= (nxt == EOS) | (next_pos + 1 >= self.max_seq_len)
            if bool(done.all()):
                break
            valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool, device=device)], dim=1)  # (B, T+1)
            fed_mult = torch.where(nxt == NUM, m, torch.ones_like(m))[:, None]  # (B, 1): [NUM] fed back scaled
            fed_pos = next_pos.clamp(max=self.max_seq_len - 1)[:, None]  # (B, 1); finished rows may run past
            h = self.hidden(nxt[:, None], fed_mult, fed_pos, valid[:, None, None, :], caches)[:, -1]  # (B, C)
            next_pos += 1
        return out


def build(cfg: Config) -> XValModel:
    """A fresh xVal model whose value scale is fitted on the training split (if it exists yet; eval.py
    then loads the saved scale from the checkpoint anyway)."""
    model = XValModel(cfg.model, cfg.task)
    try:
        records = load_split(cfg, "train")
    except UserError:
        return model
    model.value_scale.fill_(fit_scale(records))
    return model


@torch.no_grad()
def predict_with_numbers(model: nn.Module, texts: list[str], write) -> list[str]:
    """Greedy answers of a decoder that reads and writes numbers as [NUM] tokens (xVal, FoNE): the prompt is
    BOS + `segment(text)` + SEP, `model._greedy` gives (token, value) pairs, and each generated [NUM] is
    written by `write(value)`. A prompt with no room for an answer inside model.max_seq_len gets ""."""
    was_training = model.training
    model.eval()
    prompts = []
    for t in texts:
        ids, values = segment(t)
        prompts.append(([BOS] + ids + [SEP], [0.0] + values + [0.0]))
    rows = [i for i, (p, _) in enumerate(prompts) if len(p) < model.max_seq_len]
    answers = [""] * len(texts)
    if rows:
        for i, tokens in zip(rows, model._greedy([prompts[i] for i in rows])):
            answers[i] = "".join(write(value) if tok == NUM else decode([tok]) for tok, value in tokens)
    model.train(was_training)
    return answers


def left_padded(prompts: list[tuple[list[int], list[float]]], device):
    """The tensors of a left-padded batch of [NUM]-token prompts for cached greedy decoding (xVal, FoNE):
    idx (B, L) token ids, raw (B, L) float64 values, lengths (B,), valid (B, L) real tokens, pos (B, L)
    positions from each row's first real token, mask (B, 1, L, L) causal over real tokens (a pad query sees
    itself, so no row is all masked)."""
    B, L = len(prompts), max(len(p) for p, _ in prompts)
    lengths = torch.tensor([len(p) for p, _ in prompts], device=device)  # (B,)
    idx = torch.full((B, L), PAD, dtype=torch.long, device=device)  # (B, L)
    raw = torch.zeros((B, L), dtype=torch.float64, device=device)  # (B, L)
    for b, (p, v) in enumerate(prompts):
        idx[b, L - len(p):] = torch.tensor(p, device=device)
        raw[b, L - len(p):] = torch.tensor(v, dtype=torch.float64, device=device)
    valid = torch.arange(L, device=device)[None, :] >= (L - lengths)[:, None]  # (B, L)
    pos = (valid.cumsum(dim=1) - 1).clamp(min=0)  # (B, L)
    causal = torch.ones(L, L, dtype=torch.bool, device=device).tril()
    eye = torch.eye(L, dtype=torch.bool, device=device)
    mask = ((causal[None] & valid[:, None, :]) | eye[None]).unsqueeze(1)  # (B, 1, L, L)
    return idx, raw, lengths, valid, pos, mask
