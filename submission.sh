#!/usr/bin/env bash
# Build the E2LM submission.zip for one of our tasks: ./submission.sh --task NAME --metric METRIC [--help]
# The work is done by `python -m e2lm_bench.submission`; this wrapper only finds the environment's python
# and says how to install the package when it is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$(command -v python || command -v python3)" || { echo "submission.sh: no python on PATH" >&2; exit 1; }
if ! "$python" -c "import e2lm_bench.submission" 2>/dev/null; then
  echo "submission.sh: the e2lm-bench package is not installed for $python; run: pip install -e \"$here\"" >&2
  exit 1
fi
exec "$python" -m e2lm_bench.submission "$@"
