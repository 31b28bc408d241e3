"""The offline demo: a child-directed grammar for corpus and evaluation sets, and the run that trains and scores."""
