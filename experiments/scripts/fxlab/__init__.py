"""fxlab: the shared code of the FluxEM experiment scripts.

| module                 | what it holds                                                            |
|------------------------|--------------------------------------------------------------------------|
| config.py              | YAML -> nested dataclasses, validation, CLI overrides, fingerprints       |
| data.py                | JSONL read/write, the data manifest, arithmetic generation               |
| executor.py            | the hybrid's instruction registry over exact FluxEM values               |
| tasks/                 | one plugin per task: data, teacher, answer form (arithmetic, units, mathds) |
| models/                | the registry (name -> build) and the models: token_model, xval, abacus,  |
|                        | fone, hybrid                                                             |
| train/                 | the one training loop and checkpoints, torchrun helpers, thread default  |
| metrics.py             | exact match, relative error, Wilson intervals, the results tables        |
| cli.py                 | the flags every script shares and the exit-2 error wrapper               |

Imports go one way: tasks and models use executor, config and data; train uses models; nothing imports
train but the scripts.

Every user-facing mistake (bad config, missing or empty data, a foreign or damaged checkpoint, a run
directory another run holds, a diverged training loss) raises `UserError`; each script's `main` turns it
into a one-line message on stderr and exit status 2. Ctrl-C and SIGTERM stop training cleanly (exit 130 /
143) with a message that says how to resume.
"""


class UserError(Exception):
    """A mistake the user can fix (bad config, missing file, ...). Scripts print it and exit 2."""
