"""The organizers' scientific-domain check of a submitted task, on a sample of its items (their starter-kit
notebook; announced in https://huggingface.co/blog/tiiuae/e2lm-competition).

Their check asks an LLM whether each sampled question needs specialised knowledge; running it before
submitting shows how many items it would reject. The judge is any function from an item's text to a
verdict, so a local model can stand in for the API the organizers use.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
from typing import Callable

from e2lm_bench.errors import UserError
from e2lm_bench.redaction import redacted


def judge_text(doc: dict) -> str:
    """One item as the organizers' domain check shows it to the judge: question, lettered options, answer."""
    if len(doc["choices"]) > len(string.ascii_uppercase):
        raise UserError(f"item {doc.get('id')!r}: more than 26 choices cannot be lettered")
    letters = string.ascii_uppercase
    options = [f"{letters[i]}) {choice.strip()}" for i, choice in enumerate(doc["choices"])]
    return "\n".join([doc["question"].strip(), *options, f"Answer: {letters[doc['answer']]}"])


def _verdict(reply, doc_id) -> bool:
    word = re.sub(r"[^a-z]", "", str(reply).strip().lower())
    if word.startswith("accept"):
        return True
    if word.startswith("reject"):
        return False
    raise UserError(f"domain judge: item {doc_id!r}: expected 'Accept' or 'Reject', got {str(reply)[:80]!r}")


def judge_domain(docs, judge: Callable[[str], str], sample: int = 50, seed: int = 0) -> dict:
    """The organizers' scientific-domain check on a seeded random sample of ``sample`` items.

    ``judge`` maps an item's text to "Accept" or "Reject": :func:`openai_judge` reproduces the organizers'
    setting, any local model wrapped as a function works too. The pass threshold is not published.
    """
    docs = list(docs)
    if not docs:
        raise UserError("domain judge: no documents to sample")
    chosen = sorted(random.Random(seed).sample(range(len(docs)), min(sample, len(docs))))
    rejected = []
    for index in chosen:
        doc_id = docs[index].get("id", index)
        if not _verdict(judge(judge_text(docs[index])), doc_id):
            rejected.append(doc_id)
    accepted = len(chosen) - len(rejected)
    return {"sampled": len(chosen), "accepted": accepted, "fraction": accepted / len(chosen), "rejected": rejected}


JUDGE_SYSTEM_PROMPT = (
    "You screen questions for a benchmark of scientific and expert knowledge. You will see one "
    "multiple-choice question with its options and the correct answer. Answer Accept when answering it "
    "needs knowledge from a specialised field: natural sciences, mathematics, medicine, computer science, "
    "engineering, law, economics, business, the social sciences, or history and philosophy where reasoning "
    "about the subject is required. Answer Reject when it tests everyday common sense, the meaning, spelling "
    "or grammar of words and idioms, isolated trivia, sentiment, understanding of a short passage given in "
    "the question, or a language task such as paraphrasing or summarising. Give only the verdict."
)
VERDICT_SCHEMA = {
    "name": "domain_verdict",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["Accept", "Reject"]}},
        "required": ["verdict"],
        "additionalProperties": False,
    },
}


def openai_judge(model: str = "gpt-4o-2024-08-06") -> Callable[[str], str]:
    """A judge for :func:`judge_domain` calling the OpenAI API at temperature 0 with a fixed verdict schema,
    as the organizers' check does. The key is read from OPENAI_API_KEY and kept out of every message."""
    try:
        import openai
    except ImportError:
        raise UserError("the OpenAI domain judge needs the openai package: pip install openai") from None
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        raise UserError("the OpenAI domain judge needs an API key in the OPENAI_API_KEY environment variable")
    client = openai.OpenAI(api_key=key)

    def judge(text: str) -> str:
        try:
            response = client.chat.completions.create(
                model=model,
                temperature=0,
                messages=[{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": text}],
                response_format={"type": "json_schema", "json_schema": VERDICT_SCHEMA},
            )
        except openai.OpenAIError as err:
            raise UserError(f"domain judge: OpenAI request failed ({redacted(str(err), key)})") from None
        return json.loads(response.choices[0].message.content)["verdict"]

    return judge
