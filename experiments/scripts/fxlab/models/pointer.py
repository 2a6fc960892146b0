"""The pointer readout (model.value_readout: pointer): the network, not the executor, reads the values.

With the executor readout an instruction such as `max2` or `sort_desc` compares the operands' exact
values. With the pointer readout the network still chooses every instruction and its slots (the same
heads), but each instruction that compares values (VALUE_OPS) asks two learned heads that see nothing
except the operands' slot embeddings (fxlab/models/slot_embedding.py), never the question or the exact
value:

- `order(a, b)`: P(a < b), P(a = b), P(a > b), from the two embeddings;
- `nearer(t, a, b)`: P(a is nearer t), P(equally near), P(b is nearer t).

From them: a relation (`lt` ... `ne`) is the most likely class; `max2` / `min2` points at the operand the
order head ranks higher / lower; a list (sort, max, min, the k-th biggest or smallest) is ordered by each
item's summed win probability against every other item (a soft round robin), so the answer is the item at
the k-th place of the network's order; `closest` points at the item with the most "nearer" wins. k (an
ordinal span) and everything else stays the executor's.

Training: every teacher state that applies a value-comparing instruction gives the order head every
ordered pair of its operands (all pairs of a list) and the nearer head every pair of candidates with
their target, labelled from the exact values; these losses are added to the instruction heads' loss.
"""

from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F

from fxlab.executor import Value, boolean, execute
from fxlab.executor import _as_list as as_list
from fxlab.executor import _index as index_of
from fxlab.executor import _items as items_of
from fxlab.executor import _rational as rational

RELATIONS = {"lt": (0,), "le": (0, 1), "gt": (2,), "ge": (1, 2), "eq": (1,), "ne": (0, 2)}  # classes that are True
PAIR_OPS = set(RELATIONS) | {"max2", "min2"}
LIST_OPS = {"sort_asc", "sort_desc", "max", "min"}  # unary, on a list
KTH_OPS = {"kth_big", "kth_small"}  # binary: an ordinal, then a list
VALUE_OPS = PAIR_OPS | LIST_OPS | KTH_OPS | {"closest"}
MAX_LIST = 32  # items of one list given to the heads in training (all pairs: at most 992)


def _sign(x: Fraction) -> int:
    return 0 if x < 0 else 1 if x == 0 else 2


def comparisons(values: list[Value], gaps: dict[int, str], unary: dict[int, str]):
    """The labelled examples of one teacher state: ([(a, b, class)], [(t, a, b, class)]), class 0/1/2 as
    in the module docstring; ([], []) when the state compares nothing."""
    order, near = [], []

    def all_pairs(items):
        items = items[:MAX_LIST]
        for i, a in enumerate(items):
            for j, b in enumerate(items):
                if i != j:
                    order.append((a, b, _sign(rational(a) - rational(b))))

    for k, op in gaps.items():
        if op in PAIR_OPS:
            a, b = values[k], values[k + 1]
            order.append((a, b, _sign(rational(a) - rational(b))))
        elif op in KTH_OPS:
            all_pairs(items_of(values[k + 1]))
        elif op == "closest":
            t, items = rational(values[k]), items_of(values[k + 1])[:MAX_LIST]
            for i, a in enumerate(items):
                for j, b in enumerate(items):
                    if i != j:
                        near.append((values[k], a, b, _sign(abs(rational(a) - t) - abs(rational(b) - t))))
    for k, op in unary.items():
        if op in LIST_OPS:
            all_pairs(items_of(values[k]))
    return order, near


def _mlp(width_in: int, C: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width_in, 2 * C), nn.GELU(), nn.Linear(2 * C, C), nn.GELU(), nn.Linear(C, 3))


class ValueHeads(nn.Module):
    """order(ea, eb) -> (..., 3) logits; nearer(et, ea, eb) -> (..., 3) logits; embeddings (..., C)."""

    def __init__(self, C: int):
        super().__init__()
        self.order_mlp = _mlp(4 * C, C)
        self.nearer_mlp = _mlp(5 * C, C)

    def order(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.order_mlp(torch.cat([a, b, a - b, a * b], dim=-1))

    def nearer(self, t: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.nearer_mlp(torch.cat([t, a, b, a - t, b - t], dim=-1))

    def loss(self, embed, order: list, near: list) -> torch.Tensor | None:
        """Cross-entropy of both heads on the examples of `comparisons`; `embed(values) -> (n, C)`."""
        total = None
        if order:
            a, b = embed([x[0] for x in order]), embed([x[1] for x in order])
            y = torch.tensor([x[2] for x in order], device=a.device)
            total = F.cross_entropy(self.order(a, b), y)
        if near:
            t, a, b = (embed([x[i] for x in near]) for i in range(3))
            y = torch.tensor([x[3] for x in near], device=a.device)
            n = F.cross_entropy(self.nearer(t, a, b), y)
            total = n if total is None else total + n
        return total

    # -- inference

    def _pair_probs(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(..., 3) P(<, =, >) of a against b, averaged with the reversed question (b against a)."""
        forward = self.order(a, b).softmax(-1)
        backward = self.order(b, a).softmax(-1).flip(-1)
        return (forward + backward) / 2

    def ranking(self, E: torch.Tensor) -> list[int]:
        """Item indices, biggest first, by summed P(>) - P(<) against every other item."""
        n = E.shape[0]
        a, b = E[:, None].expand(n, n, -1), E[None, :].expand(n, n, -1)
        p = self._pair_probs(a, b)  # (n, n, 3)
        score = (p[..., 2] - p[..., 0]).sum(1)
        return sorted(range(n), key=lambda i: (-float(score[i]), i))

    def apply(self, embed, op: str, *args: Value) -> Value:
        """Run instruction `op` with the network's reading of the values (VALUE_OPS), else the executor."""
        if op not in VALUE_OPS:
            return execute(op, *args)
        if op in PAIR_OPS:
            a, b = args
            cls = int(self._pair_probs(*embed([a, b]).unbind(0)).argmax())
            if op == "max2":
                return a if cls >= 1 else b
            if op == "min2":
                return a if cls <= 1 else b
            return boolean(cls in RELATIONS[op])
        if op == "closest":
            target, items = args[0], items_of(args[1])
            E = embed([target, *items])
            t, C = E[0], E[1:]
            n = C.shape[0]
            p = self.nearer(t.expand(n, n, -1), C[:, None].expand(n, n, -1), C[None, :].expand(n, n, -1)).softmax(-1)
            score = (p[..., 0] - p[..., 2]).sum(1)
            return items[max(range(n), key=lambda i: (float(score[i]), -i))]
        items = items_of(args[-1])
        ranked = [items[i] for i in self.ranking(embed(list(items)))]  # biggest first
        if op in ("sort_desc", "sort_asc"):
            return as_list(ranked if op == "sort_desc" else ranked[::-1])
        if op in ("max", "min"):
            return ranked[0] if op == "max" else ranked[-1]
        k = index_of(args[0], "ordinal")
        if not 1 <= k <= len(ranked):
            return execute(op, *args)  # the executor's StepError: no k-th item
        return ranked[k - 1] if op == "kth_big" else ranked[::-1][k - 1]
