"""The Abacus baseline (model "abacus"; McLeish et al. 2024, "Transformers Can Do Arithmetic with the Right
Embeddings", arXiv 2405.17399): the character-level token model with Abacus positions.

What it does (the paper's method, checked against its code, github.com/mcleish7/arithmetic):
- Every number is written least-significant digit first, in the question and in the answer ("12 + 7" is
  read as "21 + 7", the answer "-4396" is written "-6934"; the paper's data reverse all numbers).
  `predict` returns the answer in normal order.
- Each digit gets the index of its place within its maximal run of digits, counted from the first digit
  as written: 1 for the units digit (written first), 2 for the tens, ...; every other token gets 0. The
  index selects a learned embedding that is added to the token embedding (index 0 is a learned vector
  too, as in the paper's code).
- Training adds a random offset k to every digit index of an example (digits then carry k+1, k+2, ...),
  k uniform on 0..`model.abacus_max_k` (the paper: 100; its code draws 0..99 and adds it to indices that
  start at 1). At inference k = 0. The offsets train the embeddings of indices far beyond the training
  lengths, so the digits of longer numbers have trained positions.

Choices that differ from the paper, for a CPU budget or for this repository's interface:
- Model: the token model's decoder (fxlab/models/token_model.py: pre-LN GPT blocks, `model.hidden_dim`,
  `model.num_layers`, `model.num_heads` of the config: 128 wide and 2-3 layers here), not the paper's
  16-layer, 1024-wide transformer, and no looped (recurrent) blocks and no input injection: the paper's
  best addition models loop a block with the input embeddings re-added at every recurrence; this one is
  the plain feed-forward stack the token baseline uses, the paper's "standard transformer" variant.
- Attention positions: none (NoPE), the paper's default: the Abacus indices are the only position signal
  (the token model's rotary tables are set to the identity). Measured on 1-6 digit addition (d64, 2
  layers, 6000 steps of 64): with the rotary positions on (the paper's "Abacus + RoPE" variant) the model
  was still at 3% in distribution, without them at 100%.
- Offsets: one k per training example (the paper's code draws one k per batch), drawn from torch's
  global generator, which the training loop seeds and checkpoints, so a resumed run is reproduced exactly.
  `model.abacus_max_k` defaults to the paper's 100; the configs may set it lower (each says why).
- Data: the paper trains on balanced operand lengths up to 20 digits with tens of millions of examples;
  here the model trains on each config's data as it is (`experiments/configs`), and its fairness test
  (tests/test_abacus.py) is a CPU-sized version of the paper's length-generalization setting.

Length generalization at this scale (measured; balanced operand lengths 1..L, offsets on, NoPE): the
models are exact in distribution but do not reach the paper's extrapolation. L = 6, 64 wide, 2 layers,
12,000 steps of 64: 7-digit operands 0.5-18% exact over the run, 8-digit 0%; 4 layers: up to 45% on 7
digits, 0% on 8; L = 10, 2 layers: 27% on 11 digits, 0.5% on 12; 128 wide, 3 layers, L = 4, 15,000 steps
(offsets up to 20, 50 or 100, with or without rotary positions): 0% on 5 digits. Larger offsets, weight
decay 1.0, input injection, a looped block and sinusoidal initial Abacus embeddings did not change this.
The typical error: the digits up to place L are right, then the model writes a final carry and stops.
No training sum has an operand digit at place L + 1, and a small model can still compute a digit's place
(its index minus the first index of its number, which the offsets leave intact), so it learns that place
L + 1 holds only the carry. The paper's models (16 layers, 1024 wide, 20M examples of up to 20 digits, a
GPU-day) extrapolate from 20 to 100 digits; that regime is beyond the CPU budget of these experiments.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

from fxlab.config import Config, ModelConfig
from fxlab.models.token_model import CHAR_TO_ID, TokenOnlyModel

DIGIT_IDS = torch.tensor([CHAR_TO_ID[d] for d in "0123456789"])
_DIGIT_RUN = re.compile(r"\d+")


def reverse_digit_runs(text: str) -> str:
    """`text` with every maximal run of digits reversed in place; its own inverse.

    >>> reverse_digit_runs("12 + 7 * 305"), reverse_digit_runs("-4396"), reverse_digit_runs("021")
    ('21 + 7 * 503', '-6934', '120')
    """
    return _DIGIT_RUN.sub(lambda m: m.group()[::-1], text)


def digit_positions(idx: torch.Tensor) -> torch.Tensor:
    """(B, T) ids -> (B, T) Abacus indices: a digit's place in its run of digits (1 for the first digit as
    written), 0 for every other token.

    >>> from fxlab.models.token_model import encode
    >>> digit_positions(torch.tensor([encode("21 + 7 ")])).tolist()
    [[1, 2, 0, 0, 0, 1, 0]]
    """
    is_digit = torch.isin(idx, DIGIT_IDS.to(idx.device))  # (B, T)
    count = is_digit.long().cumsum(dim=1)  # (B, T) digits up to here
    # the count at the last non-digit token so far: subtracting it restarts the count in each run
    base = torch.where(is_digit, torch.zeros_like(count), count).cummax(dim=1).values  # (B, T)
    return (count - base) * is_digit


class AbacusModel(TokenOnlyModel):
    """TokenOnlyModel with numbers written least-significant digit first and Abacus embeddings added to
    the token embeddings. forward(batch) -> (logits, loss); collate(records); predict(texts)."""

    def __init__(self, mc: ModelConfig):
        super().__init__(mc)
        self.reversed = False  # the whole-answer reversal is replaced by reverse_digit_runs on every number
        self.max_k = mc.abacus_max_k
        self.rope_cos.fill_(1.0)  # NoPE: the rotation of every position is the identity (module docstring)
        self.rope_sin.zero_()
        # indices 0 (not a digit) .. max_seq_len (the longest possible run) + max_k (the largest offset)
        self.abacus = nn.Embedding(mc.max_seq_len + mc.abacus_max_k + 1, mc.hidden_dim)
        nn.init.normal_(self.abacus.weight, mean=0.0, std=0.02)

    def positions(self, idx: torch.Tensor, caches: list[dict] | None = None) -> torch.Tensor:
        """Abacus indices (B, T) of ids (B, T), with a random offset per example in training.

        While decoding (caches given) the run length of each row's last token is kept in caches[0], so
        that one new token (T = 1) continues the run of the tokens before it."""
        state = caches[0] if caches is not None else None
        if state is not None and "abacus_run" in state:
            is_digit = torch.isin(idx, DIGIT_IDS.to(idx.device))  # (B, T)
            pos = torch.zeros_like(idx)
            run = state["abacus_run"]  # (B,)
            for t in range(idx.shape[1]):
                run = torch.where(is_digit[:, t], run + 1, torch.zeros_like(run))
                pos[:, t] = run
        else:
            pos = digit_positions(idx)  # (B, T)
        if state is not None:
            state["abacus_run"] = pos[:, -1]
        if self.training and state is None and self.max_k > 0:
            k = torch.randint(0, self.max_k + 1, (idx.shape[0], 1), device=idx.device)  # (B, 1)
            pos = torch.where(pos > 0, pos + k, pos)
        return pos

    def hidden(self, idx: torch.Tensor, pos: torch.Tensor | None = None, mask: torch.Tensor | None = None,
               caches: list[dict] | None = None) -> torch.Tensor:
        """TokenOnlyModel.hidden with the Abacus embedding added to the token embedding."""
        if pos is None:
            T = idx.shape[1]
            cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        else:
            cos, sin = self.rope_cos[pos].unsqueeze(1), self.rope_sin[pos].unsqueeze(1)  # (B, 1, T, hd/2)
        x = self.drop(self.wte(idx) + self.abacus(self.positions(idx, caches)))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, caches[i] if caches is not None else None)
        return self.ln_f(x)  # (B, T, C)

    def collate(self, records: list[dict]) -> dict:
        """TokenOnlyModel.collate of the records with every number written least-significant digit first."""
        return super().collate([{**r, "text": reverse_digit_runs(r["text"]),
                                 "target": reverse_digit_runs(r["target"])} for r in records])

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[str]:
        """Greedy answers in normal order ("" when the question leaves no room to answer)."""
        answers = super().predict([reverse_digit_runs(t) for t in texts])
        return [reverse_digit_runs(a) for a in answers]


def build(cfg: Config) -> AbacusModel:
    return AbacusModel(cfg.model)
