"""Evaluation sets that test what the demo grammar teaches, in the task layout the loaders read.

Each good sentence is an output of the same rules as the corpus, drawn from the outputs that
:func:`~e2lm_bench.demo.corpus.held_out` reserves; its bad twin breaks one rule with a one-word change
(or by swapping subject and object). Dialogue pairs reject the answer to another kind of question;
lexical decision pairs each heard content word with a pseudo-word that was never heard.

A model scores a lexical decision item by the summed log-probability of each word's tokens, so an
untrained model prefers whichever word has fewer tokens. A BPE of the demo's size trained on the corpus
alone makes every heard word one token and every pseudo-word two to five: accuracy 1.0 before training.
The demo's tokenizer is therefore trained on the corpus and its :func:`pseudo_corpus` twins, and only
pairs whose two words get the same number of tokens are asked: the tokenizer cannot tell a word from a
pseudo-word, only the model's training can. The irregular-verb foils ("eated") get the same treatment, for
the same reason: the corpus never says them, so they would otherwise cost more tokens than "ate".
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.demo.corpus import held_out
from e2lm_bench.demo.grammar import (
    Sentence,
    determiner_frame,
    exchange,
    exchange_line,
    intransitive,
    placing,
    prepositional_subject,
    pronoun_subject,
    reflexive,
    relative_subject,
    transitive,
    wh_question,
    yes_no_question,
)
from e2lm_bench.demo.vocabulary import (
    AUX_TWIN,
    DRINK,
    DRINKS,
    INTRANSITIVE,
    NUMBER_TWIN,
    SUBJECT_PRONOUNS,
    THINGS,
    TRANSITIVE,
    VOWELS,
    content_words,
    lexicon,
)
from e2lm_bench.taskdata.readers import write_jsonl
from e2lm_bench.taskdata.sample import DIALOGUE_MATCH, length_matched
from e2lm_bench.taskdata.sources import zorro_task_name

Pair = tuple[list[str], list[str]]


def _replaced(words: list[str], span: tuple[int, int], word: str) -> list[str]:
    return words[:span[0]] + [word] + words[span[1]:]


def _twin(sentence: Sentence, role: str, twins: dict[str, str]) -> Pair | None:
    """The sentence with the word at ``role`` replaced by its twin (other number, other gender, ...)."""
    if role not in sentence.marks:
        return None
    start, end = sentence.marks[role]
    word = sentence.words[start]
    if end - start != 1 or word not in twins:
        return None
    return sentence.words, _replaced(sentence.words, (start, end), twins[word])


def _determiner_noun(adjective: bool) -> Callable[[random.Random], Pair | None]:
    def make(rng: random.Random) -> Pair | None:
        sentence = determiner_frame(rng)
        # "where is this dog ?": a noun of the other number would break subject-verb agreement too
        if ("adj" in sentence.marks) != adjective or sentence.words[0] == "where":
            return None
        return _twin(sentence, "noun", NUMBER_TWIN)
    return make


def _agreement(rule: Callable[[random.Random], Sentence]) -> Callable[[random.Random], Pair | None]:
    """Pairs from ``rule`` with the verb's number flipped."""
    return lambda rng: _twin(rule(rng), "verb", AUX_TWIN)


def _question_with_aux(rng: random.Random) -> Pair | None:
    """"does the dog like ... ?" and "is the dog sleeping ?": an auxiliary before the subject."""
    sentence = yes_no_question(rng)
    progressive = sentence.words[0] in ("is", "are") and sentence.words[-2].endswith("ing")
    if progressive or sentence.words[0] in ("does", "do"):
        return _twin(sentence, "verb", AUX_TWIN)
    return None


def _simple_question(rng: random.Random) -> Pair | None:
    """"where is the ball ?" and "what color are the cups ?": the copula is the main verb."""
    sentence = wh_question(rng)
    if sentence.words[:2] in (["where", "is"], ["where", "are"]) or sentence.words[:2] == ["what", "color"]:
        return _twin(sentence, "verb", AUX_TWIN)
    return None


def _pronoun_gender(rng: random.Random) -> Pair | None:
    return _twin(reflexive(rng), "reflexive", {"himself": "herself", "herself": "himself"})


TRANSITIVE_PAST = frozenset(v.past for v in TRANSITIVE + (DRINK,))
INTRANSITIVE_PAST = tuple(sorted(v.past for v in INTRANSITIVE))
INANIMATE_WORDS = frozenset(w for n in THINGS for w in (n.sg, n.pl)) | frozenset(DRINKS)


def _past_transitive(rng: random.Random) -> Sentence | None:
    """"the boy took the ball .": a past-tense transitive sentence with a thing as object."""
    sentence = transitive(rng)
    verb = sentence.words[sentence.marks["verb"][0]]
    object_head = sentence.words[sentence.marks["object"][1] - 1]
    return sentence if verb in TRANSITIVE_PAST and object_head in INANIMATE_WORDS else None


def _dropped_argument(rng: random.Random) -> Pair | None:
    sentence = placing(rng)
    start, end = sentence.marks["object"]
    if end - start != 1:  # drop a pronoun object only, so the foil is just one word shorter
        return None
    return sentence.words, sentence.words[:start] + sentence.words[end:]


def _swapped_arguments(rng: random.Random) -> Pair | None:
    """"the cookie ate the boy .": only people and animals are subjects of transitive verbs in the corpus."""
    sentence = _past_transitive(rng)
    if sentence is None:
        return None
    (s0, s1), (o0, o1) = sentence.marks["subject"], sentence.marks["object"]
    words = sentence.words
    return words, words[o0:o1] + words[s1:o0] + words[s0:s1] + words[o1:]


def _transitive_verb(rng: random.Random) -> Pair | None:
    sentence = _past_transitive(rng)
    if sentence is None:
        return None
    return sentence.words, _replaced(sentence.words, sentence.marks["verb"], rng.choice(INTRANSITIVE_PAST))


OVERREGULARIZED = {v.past: v.overregularized for v in TRANSITIVE + (DRINK,) + tuple(INTRANSITIVE) if v.overregularized}


def _irregular_verb(rng: random.Random) -> Pair | None:
    rule = transitive if rng.random() < 0.6 else intransitive
    return _twin(rule(rng), "verb", OVERREGULARIZED)


def _subjective_pronoun(rng: random.Random) -> Pair | None:
    return _twin(pronoun_subject(rng), "pronoun", SUBJECT_PRONOUNS)


# Paradigm -> pair maker. Each good sentence is an output of the corpus rules; the bad one breaks the
# named rule with a one-word change (or, for swapped arguments, by exchanging subject and object).
PARADIGMS: dict[str, Callable[[random.Random], Pair | None]] = {
    "agreement_determiner_noun-across_1_adjective": _determiner_noun(adjective=True),
    "agreement_determiner_noun-between_neighbors": _determiner_noun(adjective=False),
    "agreement_subject_verb-across_prepositional_phrase": _agreement(prepositional_subject),
    "agreement_subject_verb-across_relative_clause": _agreement(relative_subject),
    "agreement_subject_verb-in_question_with_aux": _question_with_aux,
    "agreement_subject_verb-in_simple_question": _simple_question,
    "anaphor_agreement-pronoun_gender": _pronoun_gender,
    "argument_structure-dropped_argument": _dropped_argument,
    "argument_structure-swapped_arguments": _swapped_arguments,
    "argument_structure-transitive": _transitive_verb,
    "case-subjective_pronoun": _subjective_pronoun,
    "irregular-verb": _irregular_verb,
}
MAX_DRAWS = 200_000


def eval_pairs(paradigm: str, n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` distinct (good, bad) pairs whose good sentence is held out of every corpus."""
    make, pairs, seen = PARADIGMS[paradigm], [], set()
    for _ in range(MAX_DRAWS):
        pair = make(rng)
        if pair is None:
            continue
        good, bad = (" ".join(words) for words in pair)
        if good in seen or not held_out(good):
            continue
        seen.add(good)
        pairs.append((good, bad))
        if len(pairs) == n:
            return pairs
    raise ValueError(f"{paradigm}: only {len(pairs)} distinct held-out pairs in {MAX_DRAWS} draws, {n} asked for")


def dialogue_rows(n: int, rng: random.Random, by: str) -> list[dict[str, str]]:
    """``n`` held-out exchanges with distinct questions; each rejects a length-matched answer to another
    kind of question (``by`` as in :func:`~e2lm_bench.taskdata.sample.length_matched`)."""
    exchanges, seen = [], set()
    for _ in range(MAX_DRAWS):
        kind, question, answer = exchange(rng)
        if question.text not in seen and held_out(exchange_line(question, answer)):
            seen.add(question.text)
            exchanges.append((kind, f"*MOT: {question.text}", f"*CHI: {answer.text}"))
            if len(exchanges) == n:
                break
    else:
        raise ValueError(f"only {len(exchanges)} distinct held-out exchanges in {MAX_DRAWS} draws")
    rows = []
    for kind, prompt, chosen in exchanges:
        pool = length_matched(chosen, sorted({a for k, _, a in exchanges if k != kind}), by)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rng.choice(pool)})
    return rows


# English words that :func:`pseudo_words` would otherwise pick (found once with a spelling dictionary).
REAL_NON_LEXICON = frozenset("""
    bad balling ban ben blair blink bog bogs bolls bookies brock bugs cad cakes chock choke cog
    crack crock curt dad dan dear den dugs fad fan fed fen fog fried gables gad gear ged gen gog
    golds gunny hake hall hicks hocks hog hooks hun hushed jade joys jun lad lade lashed loo lox mad
    mats mike mows nike nox pat patches pet pouch pow rake rant rants rat rats reach rent ret ricks
    row rows sade set shies shimming shock shy sleet slog smog sook sow spied stairs sties stile
    stock tall tat tats tell tet told tow tried tuck tunny wake wall wats wicked wound wow zit
""".split())
# Words without a pseudo-word: the first ones their rimes give are rude.
NO_PSEUDO_WORD = frozenset(("happy", "jumping", "kick", "sits"))


def _onset(word: str) -> tuple[str, str]:
    """(consonant letters before the first vowel, the rest); "qu" is an onset, and "y" after one a vowel."""
    cut = next((i for i, ch in enumerate(word) if (ch in VOWELS and word[i - 1:i + 1] != "qu") or (ch == "y" and i)),
               len(word))
    return word[:cut], word[cut:]


def pseudo_words() -> dict[str, str]:
    """Content word -> a pseudo-word of its length: the onset swapped for another onset of the lexicon.

    A lexicon onset before a lexicon rime stays pronounceable, and an onset of the same length keeps the
    length, so only whether the word was ever heard tells the two apart. The onset is the first, in a
    fixed hash order, that makes neither a lexicon word, an English word nor an earlier pseudo-word, so
    every seed pairs a word with the same pseudo-word.
    """
    words = sorted(w for w in content_words() - NO_PSEUDO_WORD if len(w) >= 3 and all(_onset(w)))
    onsets = sorted({_onset(w)[0] for w in words})
    taken = set(lexicon()) | REAL_NON_LEXICON
    wugs = {}
    for word in words:
        onset, rime = _onset(word)
        options = sorted((o + rime for o in onsets if len(o) == len(onset)), key=lambda w: zlib.crc32(w.encode()))
        wug = next((w for w in options if w not in taken), None)
        if wug:
            wugs[word] = wug
            taken.add(wug)
    return wugs


def pseudo_corpus(lines: Iterable[str]) -> Iterator[str]:
    """The lines with every word that has a pseudo-word replaced by it, then again with every irregular past
    replaced by the "-ed" form a child would say (the irregular-verb foils).

    Tokenizer training text only: with it beside the corpus, each pseudo-word and each "-ed" foil is as
    frequent as its word, so BPE merges them alike and no pair is told apart by its token count.
    """
    lines = list(lines)
    for replacement in (pseudo_words(), OVERREGULARIZED):
        for line in lines:
            yield " ".join(replacement.get(word, word) for word in line.split())


def lexical_rows(n: int, rng: random.Random, tokenizer=None) -> list[dict[str, str]]:
    """``n`` content words drawn by ``rng``, each with its pseudo-word; with a ``tokenizer``, only words
    whose pseudo-word has as many tokens as the word (as the task scores them, after a space)."""
    wugs = pseudo_words()
    if tokenizer is not None:
        def tokens(word: str) -> int:
            return len(tokenizer(" " + word, add_special_tokens=False)["input_ids"])

        wugs = {word: wug for word, wug in wugs.items() if tokens(word) == tokens(wug)}
    if len(wugs) < n:
        raise ValueError(f"only {len(wugs)} token-matched lexical decision pairs, {n} asked for")
    return [{"lexeme": word, "wug": wugs[word]} for word in rng.sample(sorted(wugs), n)]


DIALOGUE_ROWS = 200
LEXICAL_ROWS = 150


def write_eval_sets(data_dir: str | Path, pairs_per_paradigm: int = 200, seed: int = 1, tokenizer=None) -> list[str]:
    """Write the evaluation sets in the task layout under ``data_dir``; returns the lm-eval task names.

    Only the paradigms in :data:`PARADIGMS` are written, those whose contrast the corpus teaches; the
    group names ("zorro", "dialogue_minpairs") are not returned, since a group loads all of its tasks.
    ``tokenizer``, the one the evaluated models use, keeps the lexical decision pairs token-matched.
    """
    data_dir = Path(data_dir)
    rng = random.Random(seed)
    for paradigm in PARADIGMS:
        lines = [s for pair in eval_pairs(paradigm, pairs_per_paradigm, rng) for s in pair]
        atomic_write_text(data_dir / "zorro" / f"{paradigm}.txt", "\n".join(lines))
    for variant, by in DIALOGUE_MATCH.items():
        write_jsonl(data_dir / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl", dialogue_rows(DIALOGUE_ROWS, rng, by))
    write_jsonl(data_dir / "lexical_decision" / "lexical_decision.jsonl", lexical_rows(LEXICAL_ROWS, rng, tokenizer))
    dialogue = [f"dialogue_minpairs_{variant}" for variant in DIALOGUE_MATCH]
    return [zorro_task_name(p) for p in PARADIGMS] + dialogue + ["lexical_decision"]
