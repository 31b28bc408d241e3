"""``python -m e2lm_bench``: the ``e2lm-bench`` command, as launchers (``torchrun -m``, ``accelerate launch -m``) start it."""

import sys

from e2lm_bench.cli import main

sys.exit(main())
