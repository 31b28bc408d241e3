#!/usr/bin/env bash
# Build the E2LM submission.zip for one of our tasks: ./submission.sh --task NAME --metric METRIC [--help]
# The work is done by `python -m submission`; this wrapper only finds the package and the environment's python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$(command -v python || command -v python3)" || { echo "submission.sh: no python on PATH" >&2; exit 1; }
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m submission "$@"
