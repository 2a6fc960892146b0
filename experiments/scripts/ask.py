"""Ask the trained models questions of your own: each model's answer, one line per model.

    python experiments/scripts/ask.py --config experiments/configs/arithmetic_small.yaml "12 + 7 * 3"
    python experiments/scripts/ask.py --config experiments/configs/arithmetic_small.yaml --models hybrid \\
        "What is 12 + 7 * 3?" "123456 * 789"

Loads <results_dir>/<model>/best.pt as eval.py does (same loader, same checks: the checkpoint must belong
to this config and model) and calls the model's own `predict` on the raw question text, as evaluation
does. Without --models it asks every model that has a best checkpoint in <results_dir>. Prints, for each
question, the question and then `<model>: <answer>` per model on stdout ("(no answer)" where the model
gives none, e.g. a question longer than model.max_seq_len for the token model); what was loaded goes to
stderr. No trained model, or a chosen model without a checkpoint, exits 2 with a one-line message
saying which training script to run.
"""

from __future__ import annotations

import contextlib
import sys

from eval import load_trained, parse_models
from fxlab import UserError
from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.config import Config, resolve_device
from fxlab.train.loop import predict_texts, run_dir
from fxlab.metrics import MODEL_LABELS
from fxlab.models import MODELS

PROG = "ask.py"
NO_ANSWER = "(no answer)"


def trained_models(cfg: Config) -> list[str]:
    """The models with a best checkpoint in cfg's results_dir, in the results table's order."""
    order = [m for m in MODEL_LABELS if m in MODELS] + [m for m in MODELS if m not in MODEL_LABELS]
    names = [m for m in order if (run_dir(cfg, m) / "best.json").is_file()]
    if not names:
        raise UserError(f"no trained model in {cfg.results_path}; train first: bash "
                        f"experiments/scripts/run_all_experiments.sh {cfg.source} (or a train_*.py script)")
    return names


def _main(argv) -> int:
    parser = base_parser(PROG, __doc__)
    parser.add_argument("questions", nargs="+", metavar="QUESTION", help="a question as raw text (several allowed)")
    parser.add_argument("--models", default=None,
                        help="comma-separated, e.g. token_only,hybrid (default: every model with a best checkpoint)")
    args = parser.parse_args(argv)
    for i, question in enumerate(args.questions, 1):
        if not question.strip():
            raise UserError(f"question {i} is empty; give the text to ask, e.g. \"12 + 7 * 3\"")
    cfg = config_from_args(args)
    device = resolve_device(cfg.device)
    names = parse_models(args.models) if args.models is not None else trained_models(cfg)
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the answers alone
        models = {name: load_trained(name, cfg, device) for name in names}
    answers = {name: predict_texts(model, args.questions, cfg.training.eval_batch_size, desc=name)
               for name, model in models.items()}
    for i, question in enumerate(args.questions):
        print(question)
        for name in names:
            print(f"  {name}: {answers[name][i] or NO_ANSWER}")
    return 0


def main(argv=None) -> int:
    return run_main(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
