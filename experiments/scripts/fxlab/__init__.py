"""fxlab: the shared code of the FluxEM experiment scripts.

| module           | what it holds                                                             |
|------------------|---------------------------------------------------------------------------|
| config.py        | YAML -> nested dataclasses, validation, CLI overrides, config fingerprint |
| data.py          | arithmetic data generation, JSONL read/write                              |
| units_data.py    | units data generation                                                     |
| token_model.py   | the character-level transformer baseline                                  |
| hybrid.py        | the hybrid model: FluxEM span slots + transformer (docs/design.md §5)     |
| xval.py          | the xVal baseline (Golkar et al. 2023): scaled [NUM] tokens + number head  |
| readout.py       | the hybrid's readouts (algebraic executor / regression ablation)          |
| models.py        | model registry: name -> builder ("token_only", "xval", "hybrid")          |
| loop.py          | the one training loop and the two-part checkpoint format                  |
| metrics.py       | exact match, relative error, Wilson intervals, the results table          |
| cli.py           | the flags every script shares and the exit-2 error wrapper                |

Every user-facing mistake (bad config, missing or empty data, a foreign or damaged checkpoint, a run
directory another run holds, a diverged training loss) raises `UserError`; each script's `main` turns it
into a one-line message on stderr and exit status 2. Ctrl-C and SIGTERM stop training cleanly (exit 130 /
143) with a message that says how to resume.
"""


class UserError(Exception):
    """A mistake the user can fix (bad config, missing file, ...). Scripts print it and exit 2."""
