"""Hooks of the early_science task. Self-contained (numpy and the standard library only) so the task
folder can be submitted as an lm-eval patch and runs on lm-eval 0.4.9 as on newer releases."""

import numpy as np


def doc_to_text(doc):
    return "Question: " + doc["question"].strip() + "\nAnswer:"


def doc_to_choice(doc):
    return list(doc["choices"])


def process_results(doc, results):
    """acc, acc_norm and two continuous margins, in nats.

    margin = log P(gold) - mean log P(wrong choices); margin_max = log P(gold) - max log P(wrong).
    Continuous margins move smoothly with training where 0/1 accuracy jumps, which raises both parts
    of E2LM's signal quality. acc and acc_norm follow lm-eval's multiple_choice rules (first maximum;
    acc_norm divides by the choice's length in characters).
    """
    lls = np.array([ll for ll, _ in results], dtype=float)
    gold = int(doc["answer"])
    lengths = np.array([float(len(choice)) for choice in doc["choices"]])
    wrong = np.delete(lls, gold)
    return {
        "acc": float(np.argmax(lls) == gold),
        "acc_norm": float(np.argmax(lls / lengths) == gold),
        "margin": float(lls[gold] - wrong.mean()),
        "margin_max": float(lls[gold] - wrong.max()),
    }
