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
- `model.answer_order: reversed` writes the answer least-significant character first, sign first
  ("-4396" is trained as "-6934"), as in Lee et al. 2023 ("Teaching Arithmetic to Small Transformers"):
  each digit then depends only on digits the model has already written and the operands, so a small model
  learns the carries. `predict` always returns the answer in normal order, so metrics are unchanged.
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


def reverse_answer(text: str) -> str:
    """The answer with its characters reversed and a leading "-" kept in front. It is its own inverse on
    any string with no "-" but a leading one, and never fails, so a malformed prediction still decodes.

    >>> reverse_answer("-4396"), reverse_answer("120"), reverse_answer(reverse_answer("-4396"))
    ('-6934', '021', '-4396')
    """
    if text.startswith("-"):
        return "-" + text[:0:-1]
    return text[::-1]


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

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, cache: dict | None = None) -> torch.Tensor:
        """x (B, T, C). mask None: plain causal (training). Else a bool (B, 1, T, T_keys) mask, and `cache`
        holds this layer's keys/values of earlier positions (decoding)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)  # (B, H, T_keys, hd)
            cache["k"], cache["v"] = k, v
        p = self.dropout if self.training else 0.0
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B, H, T, hd)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, T, hd)
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

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cos, sin, mask, cache)  # (B, T, C)
        return x + self.mlp(self.ln2(x))  # (B, T, C)


class TokenOnlyModel(nn.Module):
    """Char-level GPT. forward(batch) -> (logits, loss); collate(records) -> batch; predict(texts) -> answers."""

    def __init__(self, mc: ModelConfig):
        super().__init__()
        self.max_seq_len = mc.max_seq_len
        self.reversed = mc.answer_order == "reversed"
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

    def hidden(self, idx: torch.Tensor, pos: torch.Tensor | None = None, mask: torch.Tensor | None = None,
               caches: list[dict] | None = None) -> torch.Tensor:
        """Final hidden states (B, T, C) of ids (B, T). pos (B, T): position ids (default 0..T-1);
        mask/caches: see CausalSelfAttention (decoding only)."""
        if pos is None:
            T = idx.shape[1]
            cos, sin = self.rope_cos[:T], self.rope_sin[:T]  # (T, hd/2)
        else:
            cos, sin = self.rope_cos[pos].unsqueeze(1), self.rope_sin[pos].unsqueeze(1)  # (B, 1, T, hd/2)
        x = self.drop(self.wte(idx))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, caches[i] if caches is not None else None)
        return self.ln_f(x)  # (B, T, C)

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.lm_head(self.hidden(batch["idx"]))  # (B, T, V)
        targets = batch.get("targets")
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
        return logits, loss

    def collate(self, records: list[dict]) -> dict:
        """Training batch: right-padded ids and next-token targets on the answer + EOS only (the answer in
        model.answer_order)."""
        seqs, starts = [], []
        for r in records:
            prompt = [BOS] + encode(r["text"]) + [SEP]
            target = reverse_answer(r["target"]) if self.reversed else r["target"]
            seq = prompt + encode(target) + [EOS]
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
        """Greedy answers from raw text, in normal order whatever model.answer_order is, decoded together: prompts are left-padded (pads masked out,
        positions restart at 0 in every row) and keys/values are cached."""
        was_training = self.training
        self.eval()
        prompts = [[BOS] + encode(t) + [SEP] for t in texts]
        rows = [i for i, p in enumerate(prompts) if len(p) < self.max_seq_len]  # else "" (no room to answer)
        answers = [""] * len(texts)
        if rows:
            generated = self._greedy([prompts[i] for i in rows])
            for i, ids in zip(rows, generated):
                answers[i] = reverse_answer(decode(ids)) if self.reversed else decode(ids)
        self.train(was_training)
        return answers

    def _greedy(self, prompts: list[list[int]]) -> list[list[int]]:
        """Answer ids (EOS excluded) for each prompt; a row stops at EOS or when it fills max_seq_len."""
        device = self.wte.weight.device
        B, L = len(prompts), max(len(p) for p in prompts)
        lengths = torch.tensor([len(p) for p in prompts], device=device)  # (B,)
        idx = torch.full((B, L), PAD, dtype=torch.long, device=device)  # (B, L), left-padded
        for b, p in enumerate(prompts):
            idx[b, L - len(p):] = torch.tensor(p, device=device)
        valid = torch.arange(L, device=device)[None, :] >= (L - lengths)[:, None]  # (B, L) real tokens
        pos = (valid.cumsum(dim=1) - 1).clamp(min=0)  # (B, L): 0 at each row's first real token
        causal = torch.ones(L, L, dtype=torch.bool, device=device).tril()  # (L, L)
        eye = torch.eye(L, dtype=torch.bool, device=device)  # pad queries see themselves (no all-masked rows)
        mask = ((causal[None] & valid[:, None, :]) | eye[None]).unsqueeze(1)  # (B, 1, L, L)
        caches: list[dict] = [{} for _ in self.blocks]
        logits = self.lm_head(self.hidden(idx, pos, mask, caches)[:, -1])  # (B, V)
        out = torch.full((B, self.max_seq_len), -1, dtype=torch.long, device=device)  # (B, T_max); -1 = none
        done = torch.zeros(B, dtype=torch.bool, device=device)  # (B,)
        next_pos = lengths.clone()  # (B,) position of the token about to be generated
        for step in range(self.max_seq_len - int(lengths.min())):
            nxt = torch.where(done, torch.full_like(next_pos, -1), logits.argmax(dim=-1))  # (B,)
            out[:, step] = nxt
            done |= (nxt == EOS) | (next_pos + 1 >= self.max_seq_len)
            if bool(done.all()):
                break
            valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool, device=device)], dim=1)  # (B, T+1)
            fed = nxt.clamp(min=0)[:, None]  # (B, 1); finished rows feed PAD, their output is ignored
            fed_pos = next_pos.clamp(max=self.max_seq_len - 1)[:, None]  # (B, 1); finished rows may run past
            h = self.hidden(fed, fed_pos, valid[:, None, None, :], caches)  # (B, 1, C)
            logits = self.lm_head(h[:, -1])  # (B, V)
            next_pos += 1
        answers = []
        for row in out.tolist():
            stops = [i for i, t in enumerate(row) if t in (EOS, -1)]
            answers.append(row[: stops[0]] if stops else row)
        return answers


def build(cfg: Config) -> TokenOnlyModel:
    return TokenOnlyModel(cfg.model)
