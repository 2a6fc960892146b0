"""Make the experiment scripts' shared package `fxlab` importable in tests."""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "experiments" / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
