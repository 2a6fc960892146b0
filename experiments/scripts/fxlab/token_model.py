"""The token-only baseline: a character-level, decoder-only transformer (GPT style).

Sequence: BOS + question characters + SEP + answer characters + EOS. The loss is on the answer tokens and
EOS only. Inference is batched greedy decoding that stops at EOS, or when the sequence reaches
`model.max_seq_len`.

Design choices (they make the baseline fair, not weak):
- Positions are rotary (RoPE) inside attention, not a learned absolute table, so the model has no
  untrained parameters at positions longer than those seen in training; only the learned weights limit
  length generalization.
- The vocabulary is a fixed character set (not fitted to the data), so checkpoints are portable. Characters
  outside it map to UNK.
- A question whose prompt (BOS + text + SEP) does not leave room for one answer token inside
  `model.max_seq_len` gets the prediction "" (counted wrong). Configs size max_seq_len so that no test
  input hits this.
"""

from __future__ import annotations

import math
import string

import torch
import torch.nn as nn
import torch.nn.functional as F

from fxlab import UserError
from fxlab.config import Config, ModelConfig

SPECIALS = ("<pad>", "<bos>", "<sep>", "<eos>", "<unk>")
PAD, BOS, SEP, EOS, UNK = range(len(SPECIALS))
CHARS = string.digits + "+-*/=.,^ " + string.ascii_lowercase + string.ascii_uppercase + "°µ²³⁻·()?"
VOCAB = SPECIALS + tuple(CHARS)
CHAR_TO_ID = {c: i + len(SPECIALS) for i, c in enumerate(CHARS)}
IGNORE = -100  # cross-entropy ignore_index for non-answer positions


def encode(text: str) -> list[int]:
    """Character ids; unknown characters become UNK.

    >>> encode("1+2")
    [6, 15, 7]
    """
    return [CHAR_TO_ID.get(c, UNK) for c in text]


def decode(ids: list[int]) -> str:
    """Characters of ids; a special token inside an answer shows as U+FFFD (so it can never match)."""
    return "".join(VOCAB[i] if i >= len(SPECIALS) else "\ufffd" for i in ids)


def rope_tables(seq_len: int, head_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))  # (hd/2,)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv_freq)  # (T, hd/2)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # (B, H, T, hd/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # (B, H, T, hd)


class CausalSelfAttention(nn.Module):
    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.n_head, self.dropout = mc.num_heads, mc.dropout
        self.qkv = nn.Linear(mc.hidden_dim, 3 * mc.hidden_dim)
        self.proj = nn.Linear(mc.hidden_dim, mc.hidden_dim)
        self.resid_drop = nn.Dropout(mc.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B, H, T, hd)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))


class Block(nn.Module):
    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(mc.hidden_dim), nn.LayerNorm(mc.hidden_dim)
        self.attn = CausalSelfAttention(mc)
        self.mlp = nn.Sequential(
            nn.Linear(mc.hidden_dim, 4 * mc.hidden_dim), nn.GELU(),
            nn.Linear(4 * mc.hidden_dim, mc.hidden_dim), nn.Dropout(mc.dropout),
        )

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cos, sin)  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)


class TokenOnlyModel(nn.Module):
    """Char-level GPT. forward(batch) -> (logits, loss); collate(records) -> batch; predict(texts) -> answers."""

    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.max_seq_len = mc.max_seq_len
        self.wte = nn.Embedding(len(VOCAB), mc.hidden_dim)
        self.drop = nn.Dropout(mc.dropout)
        self.blocks = nn.ModuleList(Block(mc) for _ in range(mc.num_layers))
        self.ln_f = nn.LayerNorm(mc.hidden_dim)
        self.lm_head = nn.Linear(mc.hidden_dim, len(VOCAB), bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        cos, sin = rope_tables(mc.max_seq_len, mc.hidden_dim // mc.num_heads)
        self.register_buffer("rope_cos", cos, persistent=False)  # (T_max, hd/2); derived, not saved
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * mc.num_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def logits(self, idx: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        T = idx.shape[1]
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        x = self.drop(self.wte(idx))  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin)
        x = self.ln_f(x[:, -1:] if last_only else x)  # (B, T or 1, C)
        return self.lm_head(x)  # (B, T or 1, V)

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.logits(batch["idx"])  # (B, T, V)
        targets = batch.get("targets")
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
        return logits, loss

    def collate(self, records: list[dict]) -> dict:
        """Training batch: right-padded ids and next-token targets on the answer + EOS only."""
        seqs, starts = [], []
        for r in records:
            prompt = [BOS] + encode(r["text"]) + [SEP]
            seq = prompt + encode(r["target"]) + [EOS]
            if len(seq) > self.max_seq_len:
                raise UserError(f"record {r.get('id')} needs {len(seq)} tokens but model.max_seq_len is "
                                f"{self.max_seq_len}; raise model.max_seq_len")
            seqs.append(seq)
            starts.append(len(prompt) - 1)  # index of SEP: its next-token target is the first answer char
        T = max(len(s) for s in seqs) - 1
        idx = torch.full((len(seqs), T), PAD, dtype=torch.long)  # (B, T)
        targets = torch.full((len(seqs), T), IGNORE, dtype=torch.long)  # (B, T)
        for b, (seq, start) in enumerate(zip(seqs, starts)):
            idx[b, : len(seq) - 1] = torch.tensor(seq[:-1])
            targets[b, start : len(seq) - 1] = torch.tensor(seq[start + 1 :])
        return {"idx": idx, "targets": targets}

    @torch.no_grad()
    def predict(self, texts: list[str]) -> list[str]:
        """Greedy answers from raw text; prompts of equal length are decoded together (no padding)."""
        was_training = self.training
        self.eval()
        device = self.wte.weight.device
        answers = [""] * len(texts)
        by_len: dict[int, list[int]] = {}
        prompts = [[BOS] + encode(t) + [SEP] for t in texts]
        for i, p in enumerate(prompts):
            if len(p) < self.max_seq_len:  # else: no room to answer -> "" (counted wrong)
                by_len.setdefault(len(p), []).append(i)
        for L, rows in sorted(by_len.items()):
            x = torch.tensor([prompts[i] for i in rows], dtype=torch.long, device=device)  # (B, L)
            done = torch.zeros(len(rows), dtype=torch.bool, device=device)  # (B,)
            while x.shape[1] < self.max_seq_len and not bool(done.all()):
                nxt = self.logits(x, last_only=True)[:, -1].argmax(dim=-1)  # (B,)
                nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
                x = torch.cat([x, nxt[:, None]], dim=1)  # (B, T+1)
                done |= nxt == EOS
            for row, i in enumerate(rows):
                generated = x[row, L:].tolist()
                end = generated.index(EOS) if EOS in generated else len(generated)
                answers[i] = decode(generated[:end])
        self.train(was_training)
        return answers


def build(cfg: Config) -> TokenOnlyModel:
    return TokenOnlyModel(cfg.model)
