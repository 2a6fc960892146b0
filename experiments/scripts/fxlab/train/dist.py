"""Several processes under torchrun: rank detection, gradient all-reduce, and rank 0's broadcasts.

The training scripts run unchanged under

    torchrun --standalone --nproc_per_node 2 experiments/scripts/train_hybrid.py --config ...

(the pattern of nanoGPT's train.py: the same script, a few lines that detect the rank, one training
loop). torchrun sets WORLD_SIZE / RANK / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; without WORLD_SIZE the
run is one plain process and nothing here does anything. The backend is gloo on CPU and nccl on CUDA
(each process on the GPU numbered by its LOCAL_RANK).

Why gradients are all-reduced by hand instead of wrapping the model in DistributedDataParallel: the
models are called through `collate` / `predict` and saved with `state_dict`; DDP would
hide them behind `.module` and prefix every checkpoint key with "module.". Averaging the gradients
after `backward` (one flat all-reduce per step) gives the same update as DDP and leaves the model, and
so the checkpoint format, exactly as in a single process.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist

from fxlab import UserError

# Rank 0 validates and saves while the others wait in a broadcast; a long validation must not trip the
# collective timeout (gloo's default is 30 minutes).
TIMEOUT = datetime.timedelta(hours=2)


class PeerLost(UserError):
    """A collective failed: another rank stopped (killed, interrupted or an error, which it reports)."""


@dataclass(frozen=True)
class Dist:
    """This process's place in the run. `enabled` is False for a plain single-process run."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes checkpoints, metrics and logs."""
        return self.rank == 0


SINGLE = Dist()
_current = SINGLE


def current() -> Dist:
    """The Dist of this process (SINGLE unless `init` started a process group)."""
    return _current


def _env_int(environ, name: str) -> int:
    raw = environ.get(name, "")
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a whole number; launch the script with torchrun, or unset "
                        "WORLD_SIZE to run one process") from None


def from_env(environ=None) -> Dist:
    """The Dist that torchrun's environment variables describe; SINGLE when WORLD_SIZE is absent.

    >>> from_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    Dist(rank=1, world_size=2, local_rank=1, enabled=True)
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return SINGLE
    world, rank = _env_int(environ, "WORLD_SIZE"), _env_int(environ, "RANK") if "RANK" in environ else 0
    local = _env_int(environ, "LOCAL_RANK") if "LOCAL_RANK" in environ else rank
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"WORLD_SIZE={world}, RANK={rank} do not describe a run; launch the script with "
                        "torchrun, or unset WORLD_SIZE to run one process")
    return Dist(rank=rank, world_size=world, local_rank=local, enabled=True)


def init(device: str) -> Dist:
    """Start the process group if torchrun launched this process (idempotent); returns `current()`.
    device: "cpu" -> gloo, "cuda" -> nccl on cuda:LOCAL_RANK (made the default CUDA device)."""
    global _current
    d = from_env()
    if not d.enabled or _current.enabled:
        return _current if _current.enabled else d
    if device == "cuda":
        if d.local_rank >= torch.cuda.device_count():
            raise UserError(f"LOCAL_RANK {d.local_rank} has no GPU ({torch.cuda.device_count()} visible); use "
                            "--nproc_per_node <= the number of GPUs")
        torch.cuda.set_device(d.local_rank)
    backend = "nccl" if device == "cuda" else "gloo"
    if "MASTER_ADDR" not in os.environ:
        raise UserError("WORLD_SIZE is set but MASTER_ADDR is not; launch the script with torchrun "
                        "(python -m torch.distributed.run --standalone --nproc_per_node N ...)")
    tdist.init_process_group(backend, timeout=TIMEOUT)
    _current = d
    return d


def shutdown() -> None:
    """Leave the process group (a no-op in a single process)."""
    global _current
    if _current.enabled and tdist.is_initialized():
        # Leave together: rank 0 still writes its last files when the others finish, and a rank that tears
        # down its gloo pairs while a peer is mid-teardown can die in C++ ("terminate called without an
        # active exception", exit -6); seen once in this repository's CI.
        try:
            tdist.barrier()
        except (RuntimeError, ConnectionError):  # a peer already gone: nothing left to wait for
            pass
        tdist.destroy_process_group()
    _current = SINGLE


def _collective(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, ConnectionError) as e:  # gloo / nccl: a peer closed its connection or timed out
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise PeerLost(f"rank {_current.rank}: another process of this torchrun run stopped ({first}); "
                       "see rank 0's message above; resume with the same command plus --resume") from None


def barrier() -> None:
    if _current.enabled:
        _collective(tdist.barrier)


def broadcast(obj):
    """Rank 0's `obj` on every rank (any picklable object)."""
    if not _current.enabled:
        return obj
    box = [obj if _current.is_main else None]
    _collective(tdist.broadcast_object_list, box, src=0)
    return box[0]


def all_reduce_grads(params: list[torch.nn.Parameter], loss_value: float) -> float:
    """Average the gradients of `params` over the ranks in one flat all-reduce; returns the sum of every
    rank's `loss_value` (so a NaN on any rank is seen by all, and they stop together).

    A parameter that no rank gave a gradient keeps grad None (AdamW skips it, as in one process); one
    that some rank did not reach counts as a zero gradient there, as under DDP."""
    d = _current
    if not d.enabled:
        return loss_value
    grads = [p.grad for p in params]
    ref = params[0]
    device = ref.device
    sizes = [p.numel() for p in params]
    flat = torch.zeros(sum(sizes) + len(params) + 1, dtype=torch.float32, device=device)
    off = 0
    for p, g, n in zip(params, grads, sizes):
        if g is not None:
            flat[off : off + n] = g.reshape(-1).float()
        off += n
    flat[off : off + len(params)] = torch.tensor([g is not None for g in grads], dtype=torch.float32, device=device)
    flat[-1] = loss_value
    _collective(tdist.all_reduce, flat)
    off = 0
    has = flat[sum(sizes) : sum(sizes) + len(params)].tolist()
    for p, n, h in zip(params, sizes, has):
        if h > 0:
            p.grad = (flat[off : off + n] / d.world_size).reshape(p.shape).to(p.dtype)
        off += n
    return float(flat[-1].item())


def check_in_sync(params: list[torch.nn.Parameter], what: str) -> None:
    """Raise RuntimeError on every rank unless every rank holds rank 0's values of `params`, bit for bit.
    The averaged steps keep them equal; this catches a bug (or a rank that skipped a step) before rank 0
    saves a checkpoint that the other ranks no longer match."""
    if not _current.enabled or _current.world_size == 1:
        return
    mine = torch.cat([p.detach().reshape(-1).float() for p in params])
    theirs = mine.clone()
    _collective(tdist.broadcast, theirs, src=0)
    bad = torch.tensor([0.0 if torch.equal(mine, theirs) else 1.0], device=mine.device)
    _collective(tdist.all_reduce, bad)
    if bad.item():
        raise RuntimeError(f"the weights of the {_current.world_size} processes differ {what} (a bug in "
                           "fxlab/train/dist.py or the loop); nothing was saved for this epoch")


def all_reduce_sum(values: list[float]) -> list[float]:
    """Element-wise sums over the ranks (float64), e.g. [loss sum, sample count]."""
    if not _current.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if tdist.get_backend() == "nccl":
        t = t.cuda()
    _collective(tdist.all_reduce, t)
    return t.cpu().tolist()


def shard(order: list[int], d: Dist | None = None) -> list[int]:
    """This rank's disjoint share of `order`, padded (by wrapping to its start) to a multiple of the world
    size so that every rank takes the same number of steps, as torch's DistributedSampler does.

    >>> shard(list(range(5)), Dist(rank=1, world_size=2, enabled=True))
    [1, 3, 0]
    """
    d = d or _current
    if d.world_size == 1:
        return order
    total = -(-len(order) // d.world_size) * d.world_size
    padded = order + (order * (1 + total // max(1, len(order))))[: total - len(order)]
    return padded[d.rank : total : d.world_size]
