"""Model registry: name -> builder. The training loop and eval.py know models only through this.

Every model is an `nn.Module` with

    forward(batch: dict) -> (outputs, loss)     # loss: scalar tensor, or None when batch has no targets
    collate(records: list[dict]) -> dict        # TRAINING batches from JSONL records (may read target/roles)
    predict(texts: list[str]) -> list[str]      # inference from raw text only; canonical answer strings,
                                                # "" when the model cannot answer

and a module-level `build(cfg: Config) -> nn.Module`. Validation and evaluation call only `predict`, so
no label can reach an answer.
"""

from __future__ import annotations

import importlib

import torch
import torch.nn as nn

from fxlab import UserError
from fxlab.config import Config

# name -> module holding `build(cfg)`; imported lazily so a missing or broken model does not stop the others.
MODELS = {"token_only": "fxlab.models.token_model", "hybrid": "fxlab.models.hybrid", "xval": "fxlab.models.xval",
          "abacus": "fxlab.models.abacus",
          "fone": "fxlab.models.fone"}


def build_model(name: str, cfg: Config) -> nn.Module:
    """A freshly initialised model; the init is seeded by cfg.seed, so it is the same on every call."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    try:
        module = importlib.import_module(MODELS[name])
    except ModuleNotFoundError as e:
        if e.name == MODELS[name]:
            path = f"experiments/scripts/fxlab/models/{MODELS[name].split('.')[-1]}.py"
            raise UserError(f"model {name!r} is not available: {MODELS[name]} ({path}) does not exist") from None
        if e.name and e.name.split(".")[0] == "fluxem":
            raise UserError(f"model {name!r} needs the fluxem package; install it with "
                            "`pip install -e .` from the repository root") from None
        raise
    torch.manual_seed(cfg.seed)
    return module.build(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
