"""``python -m e2lm_bench.submission`` (and ``./submission.sh``): build the E2LM submission.zip for one of our tasks."""

from __future__ import annotations

import argparse
import os
import sys

from e2lm_bench.errors import UserError
from e2lm_bench.submission.package import DEFAULT_OUTPUT, TOKEN_ENV, build_submission, summary
from e2lm_bench.submission.validate import FORK_BASE_VERSION, check_lm_eval_049


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="submission.sh",
        description="Validate one of our lm-eval tasks against the E2LM rules and write submission.zip "
        f"(evaluation.patch + metadata.yaml). The Hugging Face token for a private dataset is read from {TOKEN_ENV}; "
        "E2LM_DATA_DIR makes the check read a local copy of the Hub dataset.",
    )
    p.add_argument("--task", required=True, help="task name (a YAML under lm_eval_tasks/ with `task: NAME`)")
    p.add_argument("--metric", required=True,
                   help="metric the organizers read: margin or margin,none (metadata.yaml gets lm-eval's results key, margin,none)")
    p.add_argument("--dataset", metavar="HUB_ID", help="put this Hub dataset (owner/name) in the submitted YAML's dataset_path")
    p.add_argument("--fork", metavar="DIR", help="checkout of the competition fork to diff against (left untouched)")
    p.add_argument("--output", metavar="DIR", default=str(DEFAULT_OUTPUT), help="output folder (default: %(default)s)")
    p.add_argument("--check-049", metavar="SDIST_DIR",
                   help=f"also apply the patch to this extracted lm-eval {FORK_BASE_VERSION} source tree and run the task there")
    return p


def _hide(message: str, token: str) -> str:
    """A last guard: no message reaches the screen with the token in it."""
    return message.replace(token, "<hidden>") if token else message


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip()
    try:
        result = build_submission(args.task, args.metric, args.output, fork=args.fork, dataset=args.dataset)
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(summary(result))
        if args.check_049:
            report = check_lm_eval_049(result.patch_path, args.check_049, result.validation)
            key = result.validation.result_key
            print(f"lm-eval {report['version']} ({args.check_049}): the patch applies, the task is listed and runs "
                  f"with a fixed-score model ({key} = {report['metrics'][key]:.4f})")
    except (UserError, OSError) as err:
        print(_hide(f"submission: {err}", token), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
