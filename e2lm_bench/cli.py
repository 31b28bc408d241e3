"""The ``e2lm-bench`` command: thin argument parsing over library functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EVAL_HELP = """\
usage: e2lm-bench eval [--data-dir DIR|sample] <any lm_eval arguments>

Runs lm-eval's own command line with this package's tasks (dialogue_minpairs, lexical_decision,
zorro and their subtasks) on the include path, and --batch_size auto unless you give one.
--data-dir sets E2LM_DATA_DIR for the run ('sample' = the small data bundled with the package).
lm-eval's help follows.
"""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="e2lm-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("eval", help="lm_eval with our tasks registered (all lm_eval arguments pass through)")

    baseline = commands.add_parser("baseline", help="write a baseline model folder that lm_eval --model hf loads")
    baseline.add_argument("kind", choices=["random-logits", "untrained"])
    baseline.add_argument("--output", required=True, type=Path, help="model folder to write")
    baseline.add_argument("--tokenizer", help="tokenizer folder or hub id (default: a small BPE trained on the sample data)")
    baseline.add_argument("--preset", default="llama-tiny", help="preset name or config file (untrained only)")
    baseline.add_argument("--seed", type=int, default=0)

    sample = commands.add_parser("sample-data", help="print the bundled sample data folder, or write a fresh copy")
    sample.add_argument("--output", type=Path, help="write a regenerated copy here instead")
    sample.add_argument("--seed", type=int, default=0)

    conventions = commands.add_parser(
        "conventions", help="score one task under each published scoring convention, side by side"
    )
    conventions.add_argument("model", help="model folder (or hub id)")
    conventions.add_argument(
        "--task", required=True,
        choices=["dialogue_minpairs_words", "dialogue_minpairs_tokens", "lexical_decision", "zorro"],
    )
    conventions.add_argument("--limit", type=int, help="first N items (per paradigm for zorro)")
    conventions.add_argument("--lowercase", action="store_true", help="lower-case sentences first (the seed's Zorro script did)")
    conventions.add_argument("--batch-size", type=int, default=64)
    conventions.add_argument("--device")
    conventions.add_argument("--trust-remote-code", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "eval":  # everything after `eval` belongs to lm_eval
        if any(a in ("-h", "--help") for a in argv[1:2]) or len(argv) == 1:
            print(EVAL_HELP)
        from e2lm_bench.harness import run

        return run(argv[1:])
    args = _build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, OSError) as err:
        print(f"e2lm-bench {args.command}: {err}", file=sys.stderr)
        return 2


def _baseline(args) -> int:
    from training.baselines import save_random_logits_model, save_untrained_model

    tokenizer = _load_tokenizer(args.tokenizer)
    if args.kind == "random-logits":
        path = save_random_logits_model(args.output, tokenizer, seed=args.seed)
        print(f"wrote {path} (load with trust_remote_code=True)")
    else:
        path = save_untrained_model(args.output, tokenizer, preset=args.preset, seed=args.seed)
        print(f"wrote {path}")
    return 0


def _load_tokenizer(name: str | None):
    if name:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    from e2lm_bench.sample_data import sample_tokenizer

    return sample_tokenizer()


def _sample_data(args) -> int:
    from e2lm_bench.sample_data import SAMPLE_DATA_DIR, write_sample_data

    print(write_sample_data(args.output, seed=args.seed) if args.output else SAMPLE_DATA_DIR)
    return 0


def _conventions(args) -> int:
    from e2lm_bench.conventions import LMScorer, compare_conventions

    kwargs = {"trust_remote_code": True} if args.trust_remote_code else {}
    scorer = LMScorer.from_pretrained(args.model, batch_size=args.batch_size, device=args.device, **kwargs)
    table = compare_conventions(scorer, args.task, limit=args.limit, lowercase=args.lowercase)
    print(f"{'convention':<14}{'acc':>8}{'margin':>10}")
    for name, row in table.items():
        print(f"{name:<14}{row['acc']:>8.4f}{row['margin']:>10.4f}")
    return 0


_COMMANDS = {"baseline": _baseline, "sample-data": _sample_data, "conventions": _conventions}

if __name__ == "__main__":
    sys.exit(main())
