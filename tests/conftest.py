"""Make the experiment scripts' shared package `fxlab` importable in tests."""

import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "experiments" / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run faster on one thread (and do not fight other processes for cores); results are
    bit-identical only at a fixed thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def script_args(config, root: Path) -> list[str]:
    """Flags that point a script's main() at `config` with data and results under `root`."""
    return ["--config", str(config), "--set", f"paths.data_dir={root / 'data'}",
            "--set", f"paths.results_dir={root / 'results'}"]
