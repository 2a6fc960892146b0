"""FoNE (Zhou et al. 2025, "FoNE: Precise Single-Token Number Embeddings via Fourier Features",
arXiv 2502.09741), model "fone": every number is one token whose embedding holds its Fourier features,
and the answer's number is read digit by digit from the last hidden state.

What it does (the paper's method, checked against its code, github.com/KevinZhoutianyi/FoNE):
- Numbers. `fxlab.models.xval.segment` splits the text: each number found by `fluxem.detect_spans` becomes one
  `[NUM]` token (xVal's token; the same numbers the hybrid and xVal see), every other character a
  character token.
- Features (`fone_features`). With n integer and f decimal digits, a number x gets one (cos, sin) pair per
  digit: cos(2 pi x / 10^i), sin(2 pi x / 10^i) for i = 1 - f, ..., n (the periods 10^i of the paper's
  default period base 10; the pair of period 10^i holds x mod 10^i). The 2(n + f) values, zero-padded to
  `model.hidden_dim`, go through a learned linear layer and are added to the `[NUM]` token embedding
  (the paper's `add_linear`).
- Readout (`digit_logits`). The final hidden state that predicts a `[NUM]` token goes through a LayerNorm;
  its entries 2j, 2j+1 are compared with the pairs (cos(2 pi d / 10), sin(2 pi d / 10)) of the ten digit
  values d (dot products: logits of a classification over 10 digits), for every digit place j (the
  smallest decimal place first, then units, tens, ...). The loss is the cross-entropy of every digit,
  summed over the places and averaged over the numbers, as in the paper's code. At inference each digit
  is the argmax: the nearest (cos, sin) pair.
- Digit counts. n = `model.fone_int_digits`, or, when that is 0, the digits of the largest |value| in the
  training split (questions and answers) plus FONE_ROOM = 2 places (room for a carry and one more; the
  paper's scripts fix the count by hand: 5 by default, 10 in its addition example). The count in use is
  saved with the weights (buffer `int_digits`), so evaluation reads numbers with the training count.
  f = `model.fone_frac_digits` (0 for the integer arithmetic tasks). A number with more integer digits
  than n is seen modulo 10^n (its high digits are lost), as in the paper; an answer that needs more
  digits than n (or f) cannot be written, so a training record with one is refused with a message.

Choices that differ from the paper, each for a reason:
- Backbone: the token baseline's causal decoder (`token_model.Block`, rotary positions) of the config's
  size (128 wide, 2-3 layers here), not the paper's Llama-style models (up to 38M parameters): the
  comparison is then about the number encoding alone, as for xVal.
- Answers are generated: BOS + question + SEP + answer + EOS, with a token head (tied to the input
  embedding) choosing `[NUM]`, EOS or a character, and the digit readout giving the value of each `[NUM]`
  the token head writes; the generated `[NUM]` is fed back with its FoNE embedding. The paper's
  experiments answer with a single number read from the last token's hidden state; here an arithmetic
  answer is `[NUM] EOS`, and the loss adds the token head's cross-entropy to the digit loss.
- Negative answers: the paper's code reads no sign (its labels and predictions are non-negative digit
  strings). Here a sign head (a linear layer on the same hidden state, binary cross-entropy at the
  positions that predict an answer `[NUM]`) says whether the number is negative, and the digits give its
  absolute value; "-0" is written "0". A negative number fed back as input gets the features of its
  signed value (cos/sin of x < 0). Digits of |x| rather than of x mod 10^n (the ten's complement, which
  is what the features of x < 0 hold): on a +- b with 2-digit operands (3 layers, 3000 steps of 64) the
  complement readout was right on 27% of answers, this one on 50%.
- The readout's LayerNorm starts at gain 1 (PyTorch's and the paper's). Its logits are dot products with
  points on the unit circle, so neighbouring digits start about 0.2 apart and training can sit on a
  plateau (3-digit addition with operands uniform on 100..999: 9% after 1500 steps; the fairness test
  therefore draws operand lengths uniformly, tests/test_fone.py). A gain of 5 removed that plateau (100%
  at 1500 steps) but slowed a +- b (35% against 50% after 3000 steps), so it is not used.
- The number 0 gets its features (cos 1, sin 0 at every period); the paper's code zeroes the features of
  0 (it marks padding with 0), and adds the linear layer's bias at every position; here only `[NUM]`
  positions get the projected features.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F

import fluxem
from fxlab import UserError
from fxlab.config import Config, ModelConfig
from fxlab.data import load_split
from fxlab.models.token_model import BOS, EOS, IGNORE, PAD, SEP, Block, rope_tables
from fxlab.models.xval import NUM, VOCAB_SIZE, left_padded, predict_with_numbers, segment

FONE_ROOM = 2  # integer digits beyond the training range's (module docstring)
DEFAULT_INT_DIGITS = 10  # before the training split exists; eval.py then loads the trained count


def fone_features(values: torch.Tensor, int_digits: int, frac_digits: int = 0) -> torch.Tensor:
    """FoNE features (..., 2 * (int_digits + frac_digits)) of values (..., float64 keeps every digit of an
    integer up to 2^53): cos, sin of 2 pi x / 10^i for
    i = 1 - frac_digits .. int_digits, interleaved (cos, sin) per period, the shortest period first. A
    non-finite value gets zeros.

    >>> [round(v, 4) for v in fone_features(torch.tensor([18.0]), 2)[0].tolist()]  # 18 mod 10, 18 mod 100
    [0.309, -0.9511, 0.4258, 0.9048]
    """
    x = values.double()
    finite = torch.isfinite(x)
    x = torch.where(finite, x, torch.zeros_like(x))
    pairs = []
    for i in range(1 - frac_digits, int_digits + 1):
        period = 10.0 ** i
        angle = 2 * math.pi * torch.remainder(x, period) / period  # the remainder keeps large x precise
        pairs += [torch.cos(angle), torch.sin(angle)]
    out = torch.stack(pairs, dim=-1) * finite.unsqueeze(-1)  # (..., 2D)
    return out.float()


def value_of_features(features: torch.Tensor, int_digits: int, frac_digits: int = 0) -> Fraction:
    """The number that `fone_features` encoded, modulo 10^int_digits, from one feature vector (2D,): the
    pair of period 10^i holds x mod 10^i as an angle, and reading the pairs from the shortest period up
    fixes one digit at a time, so the float rounding of an angle never reaches a digit. What the paper
    means by "precise": the features lose nothing within their digits (the network's readout is learned).

    >>> value_of_features(fone_features(torch.tensor([4396.0]), 5)[0], 5), value_of_features(
    ...     fone_features(torch.tensor([123456.0]), 3)[0], 3)
    (Fraction(4396, 1), Fraction(456, 1))
    """
    f = features.double().tolist()
    whole = 0  # x * 10^frac_digits modulo 10^j, for the places read so far
    for j in range(int_digits + frac_digits):
        turn = (math.atan2(f[2 * j + 1], f[2 * j]) / (2 * math.pi)) % 1.0  # (x mod period) / period
        digit = round((turn * 10 ** (j + 1) - whole) / 10**j) % 10
        whole += digit * 10**j
    return Fraction(whole, 10**frac_digits)


def digit_table() -> torch.Tensor:
    """(2, 10): column d is (cos, sin) of 2 pi d / 10, the point of digit d on the circle."""
    d = torch.arange(10, dtype=torch.float64)
    return torch.stack([torch.cos(2 * math.pi * d / 10), torch.sin(2 * math.pi * d / 10)]).float()


def to_digits(value: float, int_digits: int, frac_digits: int) -> list[int] | None:
    """The int_digits + frac_digits digits of |value|, the smallest decimal place first; None if |value|
    needs more integer digits, or more decimals than frac_digits, or is not finite.

    >>> to_digits(-4396.0, 5, 0), to_digits(2.5, 2, 1), to_digits(123.0, 2, 0), to_digits(0.25, 2, 1)
    ([6, 9, 3, 4, 0], [5, 2, 0], None, None)
    """
    if not math.isfinite(value):
        return None
    scaled = Fraction(abs(value)) * 10 ** frac_digits
    whole = round(scaled)
    if abs(scaled - whole) > Fraction(1, 10**9) * max(1, whole) or whole >= 10 ** (int_digits + frac_digits):
        return None
    return [(whole // 10**k) % 10 for k in range(int_digits + frac_digits)]


def from_digits(digits: list[int], negative: bool, frac_digits: int) -> Fraction:
    """The value of digits (the smallest place first) with the sign: the inverse of `to_digits`."""
    whole = sum(d * 10**k for k, d in enumerate(digits))
    return Fraction(-whole if negative else whole, 10**frac_digits)


def fit_int_digits(records: list[dict]) -> int:
    """Integer digits of the largest |value| of any number in the records' texts and targets, plus
    FONE_ROOM.

    >>> fit_int_digits([{"text": "12 + 7", "target": "19"}, {"text": "99 - 100", "target": "-1"}])
    5
    """
    biggest = 0.0
    for r in records:
        for text in (r["text"], r["target"]):
            for v in segment(text)[1]:
                if math.isfinite(v):
                    biggest = max(biggest, abs(v))
    return len(str(int(biggest))) + FONE_ROOM


class FoNEModel(nn.Module):
    """forward(batch) -> ({"logits", "digits", "sign"}, loss); collate(records) -> batch; predict(texts)."""

    def __init__(self, mc: ModelConfig, task: str, int_digits: int):
        super().__init__()
        C = mc.hidden_dim
        self.task, self.max_seq_len, self.frac_digits = task, mc.max_seq_len, mc.fone_frac_digits
        self.wte = nn.Embedding(VOCAB_SIZE, C)
        self.fone_proj = nn.Linear(C, C)  # the paper's linear layer on the zero-padded features
        self.drop = nn.Dropout(mc.dropout)
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, VOCAB_SIZE, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as the token baseline
        self.digit_norm = nn.LayerNorm(C)  # the paper's LayerNorm before the digit readout
        self.sign_head = nn.Linear(C, 1)
        self.register_buffer("int_digits", torch.tensor(0, dtype=torch.long))  # saved: eval reads with it
        self.register_buffer("digit_table", digit_table(), persistent=False)  # (2, 10)
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
        self.set_int_digits(int_digits)

    def set_int_digits(self, n: int) -> None:
        width = 2 * (n + self.frac_digits)
        if width > self.wte.embedding_dim:
            raise UserError(f"FoNE needs 2 x (integer digits {n} + model.fone_frac_digits {self.frac_digits}) = "
                            f"{width} dimensions but model.hidden_dim is {self.wte.embedding_dim}; lower "
                            "model.fone_int_digits / model.fone_frac_digits or raise model.hidden_dim")
        self.int_digits.fill_(n)

    @property
    def n_digits(self) -> int:
        return int(self.int_digits) + self.frac_digits

    # ---------------------------------------------------------------- network

    def features(self, values: torch.Tensor) -> torch.Tensor:
        """(B, T) raw values -> (B, T, C): FoNE features zero-padded to the model width."""
        f = fone_features(values, int(self.int_digits), self.frac_digits).to(self.wte.weight.device)
        return F.pad(f, (0, self.wte.embedding_dim - f.shape[-1]))

    def hidden(self, idx: torch.Tensor, values: torch.Tensor, pos: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, caches: list[dict] | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of ids (B, T) whose [NUM] tokens carry raw values (B, T)."""
        if pos is None:
            T = idx.shape[1]
            cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        else:
            cos, sin = self.rope_cos[pos].unsqueeze(1), self.rope_sin[pos].unsqueeze(1)  # (B, 1, T, hd/2)
        is_num = (idx == NUM).unsqueeze(-1)  # (B, T, 1)
        x = self.wte(idx) + torch.where(is_num, self.fone_proj(self.features(values)), 0.0)  # (B, T, C)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, caches[i] if caches is not None else None)
        return self.ln_f(x)  # (B, T, C)

    def digit_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., C) hidden states -> (..., D, 10) digit logits, the smallest place first."""
        pairs = self.digit_norm(h)[..., : 2 * self.n_digits].unflatten(-1, (self.n_digits, 2))  # (..., D, 2)
        return pairs @ self.digit_table  # (..., D, 10)

    def forward(self, batch: dict) -> tuple[dict, torch.Tensor | None]:
        h = self.hidden(batch["idx"], batch["values"])  # (B, T, C)
        outputs = {"logits": self.lm_head(h), "digits": self.digit_logits(h), "sign": self.sign_head(h).squeeze(-1)}
        targets = batch.get("targets")
        if targets is None:
            return outputs, None
        logits = outputs["logits"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
        at_num = batch["num_mask"]  # (B, T): the next token is an answer [NUM]
        if bool(at_num.any()):
            digits = outputs["digits"][at_num]  # (N, D, 10)
            loss = loss + F.cross_entropy(digits.reshape(-1, 10), batch["digit_targets"][at_num].reshape(-1),
                                          reduction="sum") / digits.shape[0]
            loss = loss + F.binary_cross_entropy_with_logits(outputs["sign"][at_num], batch["negative"][at_num])
        return outputs, loss

    def collate(self, records: list[dict]) -> dict:
        """Training batch: ids, raw values, next-token targets (answer + EOS), and the digits and sign of
        every answer number at the position that predicts it."""
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
        B, T, D = len(seqs), max(len(s) for s in seqs) - 1, self.n_digits
        idx = torch.full((B, T), PAD, dtype=torch.long)  # (B, T)
        values = torch.zeros((B, T), dtype=torch.float64)  # (B, T)
        targets = torch.full((B, T), IGNORE, dtype=torch.long)  # (B, T)
        digit_targets = torch.zeros((B, T, D), dtype=torch.long)  # (B, T, D): digits of the next token's value
        negative = torch.zeros((B, T))  # (B, T): the next token's value is < 0
        for b, (seq, v, start) in enumerate(zip(seqs, vals, starts)):
            idx[b, : len(seq) - 1] = torch.tensor(seq[:-1])
            values[b, : len(seq) - 1] = torch.tensor(v[:-1], dtype=torch.float64)
            targets[b, start : len(seq) - 1] = torch.tensor(seq[start + 1 :])
            for t in range(start, len(seq) - 1):
                if seq[t + 1] != NUM:
                    continue
                digits = to_digits(v[t + 1], int(self.int_digits), self.frac_digits)
                if digits is None:
                    raise UserError(f"record {records[b].get('id')} has the answer number "
                                    f"{v[t + 1]:g}, which FoNE cannot write with {int(self.int_digits)} integer "
                                    f"and {self.frac_digits} decimal digits; raise model.fone_int_digits or "
                                    "model.fone_frac_digits")
                digit_targets[b, t] = torch.tensor(digits)
                negative[b, t] = float(v[t + 1] < 0)
        device = self.wte.weight.device
        batch = {"idx": idx, "values": values, "targets": targets, "num_mask": targets == NUM,
                 "digit_targets": digit_targets, "negative": negative}
        return {k: v.to(device) for k, v in batch.items()}

    # ---------------------------------------------------------------- inference

    def write(self, value: Fraction) -> str:
        """The written form of a decoded number, the way the task writes its targets."""
        if self.task != "arithmetic":
            return fluxem.format_value(value)
        if value.denominator == 1:
            return str(value.numerator)
        digits = str(int(abs(value) * 10**self.frac_digits)).rjust(self.frac_digits + 1, "0")
        whole, frac = digits[: -self.frac_digits], digits[-self.frac_digits :].rstrip("0")
        return ("-" if value < 0 else "") + whole + "." + frac

    def predict(self, texts: list[str]) -> list[str]:
        """Greedy answers from raw text; each generated [NUM] is written from its decoded digits and sign."""
        return predict_with_numbers(self, texts, self.write)

    def _decode_numbers(self, h: torch.Tensor) -> list[Fraction]:
        """The number each row of h (B, C) would write: its argmax digits and sign."""
        digits = self.digit_logits(h).argmax(dim=-1).tolist()  # (B, D)
        negative = (self.sign_head(h).squeeze(-1) > 0).tolist()  # (B,)
        return [from_digits(d, neg, self.frac_digits) for d, neg in zip(digits, negative)]

    def _greedy(self, prompts: list[tuple[list[int], list[float]]]) -> list[list[tuple[int, Fraction]]]:
        """(token, value) pairs of each answer (EOS excluded); KV-cached, left-padded batch."""
        device = self.wte.weight.device
        idx, values, lengths, valid, pos, mask = left_padded(prompts, device)
        values = values.cpu()  # (B, L): the FoNE features are computed on the CPU in float64
        B = idx.shape[0]
        caches: list[dict] = [{} for _ in self.blocks]
        h = self.hidden(idx, values, pos, mask, caches)[:, -1]  # (B, C)
        out: list[list[tuple[int, Fraction]]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
        next_pos = lengths.clone()  # (B,) position of the token about to be generated
        for _ in range(self.max_seq_len - int(lengths.min())):
            nxt = self.lm_head(h).argmax(dim=-1)  # (B,)
            numbers = self._decode_numbers(h)  # the value of each row's token if it is [NUM]
            for b in range(B):
                if not done[b] and int(nxt[b]) != EOS:
                    out[b].append((int(nxt[b]), numbers[b]))
            done |= (nxt == EOS) | (next_pos + 1 >= self.max_seq_len)
            if bool(done.all()):
                break
            valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool, device=device)], dim=1)  # (B, T+1)
            fed_values = torch.tensor([[float(n)] for n in numbers], dtype=torch.float64)  # (B, 1)
            fed_pos = next_pos.clamp(max=self.max_seq_len - 1)[:, None]  # (B, 1); finished rows may run past
            h = self.hidden(nxt[:, None], fed_values, fed_pos, valid[:, None, None, :], caches)[:, -1]  # (B, C)
            next_pos += 1
        return out


def build(cfg: Config) -> FoNEModel:
    """A fresh FoNE model; with model.fone_int_digits 0 its digit count is fitted on the training split
    (if it exists yet; eval.py then loads the trained count from the checkpoint anyway)."""
    n = cfg.model.fone_int_digits
    if n == 0:
        try:
            n = fit_int_digits(load_split(cfg, "train"))
        except UserError:
            n = max(1, min(DEFAULT_INT_DIGITS, cfg.model.hidden_dim // 2 - cfg.model.fone_frac_digits))
    return FoNEModel(cfg.model, cfg.task, n)
