"""CPU thread defaults for the experiment scripts: one thread unless the user asks for more.

Why one, measured on this project's 2-core CI kind (README, "Threads"): on an idle machine two threads
train about 1.7x faster, but beside one competing CPU-bound process they are about 2.5x slower than one,
and on a busier shared VM 8x slower (issue 9 saw a 2-minute quick start take 14 minutes at torch's
default of 2 threads); one thread's worst case is the mild one. The default is fixed, never picked from
the machine's load, because the trained weights depend on the thread count bit for bit, and the same
seed must give the same bytes.

Override, highest first:
    FLUXEM_THREADS=N        the scripts' own setting (N >= 1)
    OMP_NUM_THREADS=N       the usual OpenMP variable, respected when FLUXEM_THREADS is unset
Only the scripts call `setup_threads`; importing fluxem or fxlab changes no thread setting.
"""

from __future__ import annotations

import os
import sys

from fxlab import UserError

DEFAULT_THREADS = 1
ENV = "FLUXEM_THREADS"


def requested_threads(environ=None) -> tuple[int, str]:
    """(threads, where the number came from).

    >>> requested_threads({})
    (1, 'default')
    >>> requested_threads({"OMP_NUM_THREADS": "4"})
    (4, 'OMP_NUM_THREADS')
    >>> requested_threads({"FLUXEM_THREADS": "2", "OMP_NUM_THREADS": "4"})
    (2, 'FLUXEM_THREADS')
    """
    environ = os.environ if environ is None else environ
    for name in (ENV, "OMP_NUM_THREADS"):
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise UserError(f"{name}={raw!r} is not a thread count; set it to a whole number >= 1, or unset it "
                            f"(the default is {DEFAULT_THREADS})")
        return n, name
    return DEFAULT_THREADS, "default"


def setup_threads() -> int:
    """Apply the thread count to torch (now if imported, else when it is) and to OpenMP; returns it.

    OMP_NUM_THREADS is set for libraries that read it when they load (torch, OpenBLAS) and for child
    processes; torch, if already imported, is told directly.
    """
    n, _ = requested_threads()
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
