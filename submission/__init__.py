"""Package one of our lm-eval tasks as an E2LM competition submission (``./submission.sh``).

The organizers apply ``evaluation.patch`` to their lm-eval fork and run the task with nothing else
installed, so the task folder is checked for what would break or be rejected there before it is zipped.
"""
