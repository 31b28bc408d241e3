"""Running lm-eval: our tasks on its include path, scoring conventions, the ``hf-prefix`` model, checkpoint
series, the trajectory runner and the results table it writes (the one interface to ``scores`` and ``report``)."""
