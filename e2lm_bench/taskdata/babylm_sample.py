"""The BabyLM 2025 part of the bundled sample: ``evaluation_data/`` in the pipeline's layout, from our own templates.

The organizers' files come from OSF and cannot be bundled, so the tests and a first offline run read this
stand-in, written in the record formats of babylm/evaluation-pipeline-2025 (its ``full_eval`` and
``fast_eval`` folders; see :mod:`e2lm_bench.taskdata.babylm`). Every sentence and word here is ours. The
gold candidate is always first, as the pipeline expects, and a bad twin differs from its good sentence
by one contrast (agreement, word order, a selected word) with the same number of words wherever the
contrast allows, so an untrained model cannot win by length alone.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.taskdata.babylm import (
    BLIMP_UIDS,
    COMPS_STEMS,
    ENTITY_SPLITS,
    EWOK_DOMAINS,
    NUMOPS,
    SUPPLEMENT_UIDS,
    WUG_FOLDERS,
)
from e2lm_bench.taskdata.readers import write_jsonl

BLIMP_PAIRS, SUPPLEMENT_PAIRS, FAST_PAIRS = 6, 6, 3
EWOK_FAST_ROWS = 4
ENTITY_ITEMS = 2  # per numops
WUG_ADJ_ROWS, WUG_PAST_ROWS, COMPS_ROWS = 24, 12, 8
READING_SENTENCES = 15

# --- Minimal pairs: (good template, bad twin, slots), filled as in sample.py's Zorro part ------------

ANIMATE = (("boy", "boys"), ("girl", "girls"), ("dog", "dogs"), ("cat", "cats"), ("duck", "ducks"), ("baby", "babies"))
IRREGULAR = (("child", "children"), ("man", "men"), ("woman", "women"), ("mouse", "mice"), ("goose", "geese"),
             ("person", "people"))
THINGS = (("ball", "balls"), ("cup", "cups"), ("book", "books"), ("hat", "hats"), ("shoe", "shoes"), ("toy", "toys"))
IRREGULAR_THINGS = (("foot", "feet"), ("tooth", "teeth"), ("leaf", "leaves"), ("knife", "knives"), ("shelf", "shelves"))
KIDS = ("boy", "girl")


def _agreeing(nouns, singular: str, plural: str) -> list[tuple[str, str, str]]:
    """(noun, verb form agreeing with it, the other form), both numbers."""
    return [(s, singular, plural) for s, _ in nouns] + [(p, plural, singular) for _, p in nouns]


def _det(nouns) -> list[tuple[str, str, str]]:
    """(determiner, noun agreeing with it, the noun in the other number)."""
    return [(d, s, p) for d in ("this", "that") for s, p in nouns] + [(d, p, s) for d in ("these", "those") for s, p in nouns]


_REFL_GENDER = (("boy", "himself", "herself"), ("girl", "herself", "himself"), ("man", "himself", "herself"),
                ("woman", "herself", "himself"), ("king", "himself", "herself"), ("queen", "herself", "himself"))
_TWO_PEOPLE = (("boy", "girl", "himself", "herself"), ("girl", "boy", "herself", "himself"),
               ("man", "woman", "himself", "herself"), ("woman", "man", "herself", "himself"))
_LOCAL = tuple((a, b, lb, la) for a, b, la, lb in _TWO_PEOPLE)  # the reflexive agrees with the nearer noun
_SELF = (("boy", "himself"), ("girl", "herself"), ("kids", "themselves"))
_ADJ = ("happy", "hungry", "sleepy")
_SYN, _MOR, _SEM, _SS = "syntax", "morphology", "semantics", "syntax_semantics"

# UID -> (field, linguistics_term, good, bad, slots)
BLIMP_TEMPLATES: dict[str, tuple[str, str, str, str, dict]] = {
    "adjunct_island": (_SYN, "island_effects", "What did the {s} {v} after the {t}?", "What did the {s} {v} the {t} after?",
                       {"s": KIDS, "v": ("eat", "read", "find"), "t": ("nap", "bath")}),
    "anaphor_gender_agreement": (_MOR, "anaphor_agreement", "The {p[0]} {v} {p[1]}.", "The {p[0]} {v} {p[2]}.",
                                 {"p": _REFL_GENDER, "v": ("washed", "saw", "hurt")}),
    "anaphor_number_agreement": (_MOR, "anaphor_agreement", "The {p[0]} {v} {p[1]}.", "The {p[0]} {v} {p[2]}.",
                                 {"p": (("boy", "himself", "themselves"), ("boys", "themselves", "himself"),
                                        ("girl", "herself", "themselves"), ("girls", "themselves", "herself")),
                                  "v": ("washed", "saw", "hurt")}),
    "animate_subject_passive": (_SEM, "s-selection", "The {o} was {v} by the {x[0]}.", "The {o} was {v} by the {x[1]}.",
                                {"x": (("girl", "rock"), ("boy", "chair"), ("dog", "spoon")),
                                 "o": ("cake", "ball", "cup"), "v": ("taken", "found", "wanted")}),
    "animate_subject_trans": (_SEM, "s-selection", "The {x[0]} {v} the {o}.", "The {x[1]} {v} the {o}.",
                              {"x": (("girl", "rock"), ("boy", "chair"), ("dog", "spoon")),
                               "o": ("cake", "ball", "book"), "v": ("liked", "wanted", "saw")}),
    "causative": (_SYN, "argument_structure", "The {n} {v[0]} the {o}.", "The {n} {v[1]} the {o}.",
                  {"n": KIDS, "v": (("broke", "fell"), ("opened", "came"), ("rolled", "went")), "o": ("box", "ball")}),
    "complex_NP_island": (_SYN, "island_effects", "Who did you say that the {o} {v}?", "Who did you see the {o} that {v}?",
                          {"o": ("dog", "cat", "man"), "v": ("saw", "chased", "helped")}),
    "coordinate_structure_constraint_complex_left_branch": (
        _SYN, "island_effects", "What {n} did the {s} and the {a} see?", "What did the {s} and the {a} see {n}?",
        {"n": ("toys", "birds", "cars"), "s": KIDS, "a": ("dog", "man")}),
    "coordinate_structure_constraint_object_extraction": (
        _SYN, "island_effects", "Who did the {s} and the {a} {v}?", "Who did the {s} {v} and the {a}?",
        {"s": KIDS, "a": ("dog", "man"), "v": ("see", "help", "call")}),
    "determiner_noun_agreement_1": (_MOR, "determiner_noun_agreement", "The {k} took {x[0]} {x[1]}.",
                                    "The {k} took {x[0]} {x[2]}.", {"x": _det(THINGS), "k": KIDS}),
    "determiner_noun_agreement_2": (_MOR, "determiner_noun_agreement", "Look at {x[0]} {x[1]}.", "Look at {x[0]} {x[2]}.",
                                    {"x": _det(THINGS)}),
    "determiner_noun_agreement_irregular_1": (_MOR, "determiner_noun_agreement", "The {k} saw {x[0]} {x[1]}.",
                                              "The {k} saw {x[0]} {x[2]}.", {"x": _det(IRREGULAR), "k": KIDS}),
    "determiner_noun_agreement_irregular_2": (_MOR, "determiner_noun_agreement", "The {k} cleaned {x[0]} {x[1]}.",
                                              "The {k} cleaned {x[0]} {x[2]}.", {"x": _det(IRREGULAR_THINGS), "k": KIDS}),
    "determiner_noun_agreement_with_adj_2": (_MOR, "determiner_noun_agreement", "Look at {x[0]} {a} {x[1]}.",
                                             "Look at {x[0]} {a} {x[2]}.", {"x": _det(THINGS), "a": ("red", "big")}),
    "determiner_noun_agreement_with_adj_irregular_1": (
        _MOR, "determiner_noun_agreement", "The {k} saw {x[0]} {a} {x[1]}.", "The {k} saw {x[0]} {a} {x[2]}.",
        {"x": _det(IRREGULAR), "k": KIDS, "a": ("little", "happy")}),
    "determiner_noun_agreement_with_adj_irregular_2": (
        _MOR, "determiner_noun_agreement", "The {k} cleaned {x[0]} {a} {x[1]}.", "The {k} cleaned {x[0]} {a} {x[2]}.",
        {"x": _det(IRREGULAR_THINGS), "k": KIDS, "a": ("dirty", "wet")}),
    "determiner_noun_agreement_with_adjective_1": (
        _MOR, "determiner_noun_agreement", "The {k} took {x[0]} {a} {x[1]}.", "The {k} took {x[0]} {a} {x[2]}.",
        {"x": _det(THINGS), "k": KIDS, "a": ("new", "old")}),
    "distractor_agreement_relational_noun": (
        _MOR, "subject_verb_agreement", "The {r[0]} of the {n} {r[1]} {a}.", "The {r[0]} of the {n} {r[2]} {a}.",
        {"r": _agreeing((("friend", "friends"), ("sister", "sisters"), ("teacher", "teachers")), "is", "are"),
         "n": ("boys", "girl"), "a": _ADJ}),
    "distractor_agreement_relative_clause": (
        _MOR, "subject_verb_agreement", "The {r[0]} that the {n} liked {r[1]} {a}.",
        "The {r[0]} that the {n} liked {r[2]} {a}.",
        {"r": _agreeing((("friend", "friends"), ("sister", "sisters"), ("teacher", "teachers")), "was", "were"),
         "n": ("boys", "girl"), "a": _ADJ}),
    "drop_argument": (_SYN, "argument_structure", "The {n} {v[0]} {a}.", "The {n} {v[1]} {a}.",
                      {"n": ("boy", "girl", "baby"), "v": (("ran", "took"), ("smiled", "found"), ("played", "put")),
                       "a": ("today", "again")}),
    "ellipsis_n_bar_1": (_SYN, "ellipsis", "{p[0]} has one {a} {n} and {p[1]} has two.",
                         "{p[0]} has one {n} and {p[1]} has two {a}.",
                         {"p": (("Mia", "Sam"), ("Mom", "Dad")), "a": ("red", "big", "new"), "n": ("ball", "hat", "car")}),
    "ellipsis_n_bar_2": (_SYN, "ellipsis", "{p[0]} saw two {a} {n} and {p[1]} saw three.",
                         "{p[0]} saw two {n} and {p[1]} saw three {a}.",
                         {"p": (("Mia", "Sam"), ("Mom", "Dad")), "a": ("small", "black"), "n": ("birds", "cats", "trucks")}),
    "existential_there_object_raising": (
        "syntax/semantics", "control_raising", "{s} {v[0]} there to be a {n} here.", "{s} {v[1]} there to be a {n} here.",
        {"s": ("Mom", "Dad", "Grandma"), "v": (("expected", "asked"), ("wanted", "told"), ("believed", "forced")),
         "n": ("cake", "party")}),
    "existential_there_quantifiers_1": (_SEM, "quantifiers", "There are {q[0]} {n} in the {p}.",
                                        "There are {q[1]} {n} in the {p}.",
                                        {"q": (("some", "all"), ("many", "most"), ("two", "both")),
                                         "n": ("dogs", "cats", "ducks"), "p": ("box", "yard")}),
    "existential_there_quantifiers_2": (_SEM, "quantifiers", "There was {q[0]} {n} on the {p}.",
                                        "There was {q[1]} {n} on the {p}.",
                                        {"q": (("a", "every"), ("one", "each")), "n": ("cat", "bird", "spoon"),
                                         "p": ("bed", "table", "chair")}),
    "existential_there_subject_raising": (
        "syntax/semantics", "control_raising", "There {v[0]} to be a {n} in the {p}.",
        "There {v[1]} to be a {n} in the {p}.",
        {"v": (("seems", "wants"), ("appears", "tries"), ("happens", "hopes")), "n": ("cat", "cake"), "p": ("box", "kitchen")}),
    "expletive_it_object_raising": (
        "syntax/semantics", "control_raising", "{s} {v[0]} it to be {a}.", "{s} {v[1]} it to be {a}.",
        {"s": ("Mom", "Dad", "Grandma"), "v": (("expected", "asked"), ("wanted", "told"), ("believed", "forced")),
         "a": ("sunny", "late", "fun")}),
    "inchoative": (_SYN, "argument_structure", "The {o} {v[0]}.", "The {o} {v[1]}.",
                   {"o": ("door", "box", "ball"), "v": (("opened", "carried"), ("moved", "wanted"), ("rolled", "found"))}),
    "intransitive": (_SYN, "argument_structure", "The {n} {v[0]}.", "The {n} {v[1]}.",
                     {"n": ("boy", "girl", "baby"), "v": (("slept", "found"), ("fell", "took"), ("laughed", "liked"))}),
    "irregular_past_participle_adjectives": (
        _MOR, "irregular_forms", "The {p[0]} {p[2]} is {l}.", "The {p[1]} {p[2]} is {l}.",
        {"p": (("broken", "broke", "cup"), ("hidden", "hid", "key"), ("fallen", "fell", "leaf"), ("frozen", "froze", "pond"),
               ("torn", "tore", "book"), ("stolen", "stole", "bike")), "l": ("here", "mine")}),
    "irregular_past_participle_verbs": (
        _MOR, "irregular_forms", "The {n} {v[0]} the {v[2]}.", "The {n} {v[1]} the {v[2]}.",
        {"n": KIDS, "v": (("ate", "eaten", "cake"), ("saw", "seen", "bird"), ("took", "taken", "cup"),
                          ("broke", "broken", "toy"), ("drew", "drawn", "cat"), ("threw", "thrown", "ball"))}),
    "irregular_plural_subject_verb_agreement_1": (_MOR, "subject_verb_agreement", "The {s[0]} {s[1]} {a}.",
                                                  "The {s[0]} {s[2]} {a}.",
                                                  {"s": _agreeing(IRREGULAR, "is", "are"), "a": ("tired", "ready")}),
    "irregular_plural_subject_verb_agreement_2": (_MOR, "subject_verb_agreement", "The {s[0]} {s[1]} {p}.",
                                                  "The {s[0]} {s[2]} {p}.",
                                                  {"s": _agreeing(IRREGULAR, "was", "were"), "p": ("at home", "upstairs")}),
    "left_branch_island_echo_question": (_SYN, "island_effects", "The {s} will {v} whose {n}?",
                                         "Whose will the {s} {v} {n}?",
                                         {"s": KIDS, "v": ("find", "wash", "take"), "n": ("hat", "cup", "dog")}),
    "left_branch_island_simple_question": (_SYN, "island_effects", "Whose {n} did the {s} {v}?",
                                           "Whose did the {s} {v} {n}?",
                                           {"s": KIDS, "v": ("find", "wash", "take"), "n": ("hat", "cup", "dog")}),
    "matrix_question_npi_licensor_present": (_SEM, "npi_licensing", "Did the {n} ever {v}?", "The {n} did ever {v}.",
                                             {"n": ("boy", "girl", "dog"), "v": ("swim", "sing", "fall")}),
    "npi_present_1": (_SEM, "npi_licensing", "The {n} has often {v}.", "The {n} has ever {v}.",
                      {"n": ("boy", "girl", "baby"), "v": ("slept", "cried", "laughed")}),
    "npi_present_2": (_SEM, "npi_licensing", "The {n} will {q} {v}.", "The {n} will ever {v}.",
                      {"n": ("dogs", "kids"), "q": ("often", "soon"), "v": ("sleep", "play", "eat")}),
    "only_npi_licensor_present": (_SEM, "npi_licensing", "Only the {n} ever {v}.", "Even the {n} ever {v}.",
                                  {"n": ("boy", "girl", "baby", "dog"), "v": ("swam", "sang", "fell")}),
    "only_npi_scope": (_SEM, "npi_licensing", "Only the {n} that Mom likes ever {v}.",
                       "The {n} that only Mom likes ever {v}.",
                       {"n": ("boy", "girl", "dog"), "v": ("swam", "sang", "fell")}),
    "passive_1": (_SYN, "argument_structure", "The {o} was {v[0]} by the {n}.", "The {o} was {v[1]} by the {n}.",
                  {"o": ("ball", "toy"), "n": KIDS, "v": (("kicked", "slept"), ("found", "fallen"), ("taken", "cried"))}),
    "passive_2": (_SYN, "argument_structure", "The {o} was {v[0]}.", "The {o} was {v[1]}.",
                  {"o": ("cake", "ball", "cookie"), "v": (("kicked", "smiled"), ("found", "arrived"), ("eaten", "slept"))}),
    "principle_A_c_command": (_SS, "binding", "The {p[0]} next to the {p[1]} {v} {p[2]}.",
                              "The {p[0]} next to the {p[1]} {v} {p[3]}.", {"p": _TWO_PEOPLE, "v": ("washed", "saw", "hurt")}),
    "principle_A_case_1": (_SS, "binding", "The {p[0]} said that {p[1]} {v} the {o}.",
                           "The {p[0]} said that {p[2]} {v} the {o}.",
                           {"p": (("boy", "he", "himself"), ("girl", "she", "herself"), ("kids", "they", "themselves")),
                            "v": ("saw", "found", "took"), "o": ("dog", "ball")}),
    "principle_A_case_2": (_SS, "binding", "The {p[0]} imagined {p[1]} {v[0]} the {o}.",
                           "The {p[0]} imagined {p[1]} {v[1]} the {o}.",
                           {"p": _SELF, "v": (("eating", "ate"), ("holding", "held"), ("finding", "found")),
                            "o": ("cake", "cookie")}),
    "principle_A_domain_1": (_SS, "binding", "The {p[0]} said that the {p[1]} {v} {p[2]}.",
                             "The {p[0]} said that the {p[1]} {v} {p[3]}.", {"p": _LOCAL, "v": ("washed", "saw", "hurt")}),
    "principle_A_domain_2": (_SS, "binding", "The {p[0]} thinks the {p[1]} {v} {p[2]}.",
                             "The {p[0]} thinks the {p[1]} {v} {p[3]}.", {"p": _LOCAL, "v": ("likes", "sees", "helps")}),
    "principle_A_domain_3": (_SS, "binding", "The {p[0]} knew that the {p[1]} had {v} {p[2]}.",
                             "The {p[0]} knew that the {p[1]} had {v} {p[3]}.", {"p": _LOCAL, "v": ("seen", "helped", "washed")}),
    "principle_A_reconstruction": (_SS, "binding", "It was {p[1]} that the {p[0]} {v}.", "It was {p[1]} that {v} the {p[0]}.",
                                   {"p": _SELF, "v": ("saw", "washed", "helped")}),
    "regular_plural_subject_verb_agreement_1": (_MOR, "subject_verb_agreement", "The {s[0]} {s[1]} {a}.",
                                                "The {s[0]} {s[2]} {a}.", {"s": _agreeing(ANIMATE, "is", "are"), "a": _ADJ}),
    "regular_plural_subject_verb_agreement_2": (_MOR, "subject_verb_agreement", "The {s[0]} {s[1]} a {o}.",
                                                "The {s[0]} {s[2]} a {o}.",
                                                {"s": _agreeing(ANIMATE, "has", "have"), "o": ("ball", "hat", "bed")}),
    "sentential_negation_npi_licensor_present": (_SEM, "npi_licensing", "The {n} has not ever {v}.",
                                                 "The {n} has really ever {v}.",
                                                 {"n": ("boy", "girl", "baby"), "v": ("slept", "cried", "laughed")}),
    "sentential_negation_npi_scope": (_SEM, "npi_licensing", "The {n} that is {a} has not ever {v}.",
                                      "The {n} that is not {a} has ever {v}.",
                                      {"n": ("boy", "dog"), "a": ("sleepy", "small"), "v": ("swum", "sung", "fallen")}),
    "sentential_subject_island": (_SYN, "island_effects", "Who did the {s} say that the {o} {v}?",
                                  "Who did that the {o} {v} upset the {s}?",
                                  {"s": KIDS, "o": ("dog", "cat", "man"), "v": ("saw", "helped")}),
    "superlative_quantifiers_1": (_SEM, "quantifiers", "No {n} ate more than two {o}.", "No {n} ate at least two {o}.",
                                  {"n": ("boy", "girl", "dog"), "o": ("cookies", "apples", "eggs")}),
    "superlative_quantifiers_2": (_SEM, "quantifiers", "The {n} ate at most two {o}.", "No {n} ate at most two {o}.",
                                  {"n": ("boy", "girl", "dog"), "o": ("cookies", "apples", "eggs")}),
    "tough_vs_raising_1": ("syntax/semantics", "control_raising", "The {o[0]} is {t[0]} to {o[1]}.",
                           "The {o[0]} is {t[1]} to {o[1]}.",
                           {"o": (("puzzle", "solve"), ("cake", "make"), ("song", "sing"), ("book", "read")),
                            "t": (("easy", "likely"), ("hard", "sure"), ("fun", "certain"))}),
    "tough_vs_raising_2": ("syntax/semantics", "control_raising", "The {n} is {t[0]} to {v}.", "The {n} is {t[1]} to {v}.",
                           {"n": KIDS, "t": (("likely", "easy"), ("sure", "hard"), ("about", "fun")),
                            "v": ("win", "sleep", "laugh")}),
    "transitive": (_SYN, "argument_structure", "The {n} {v[0]} the {o}.", "The {n} {v[1]} the {o}.",
                   {"n": ("boy", "girl", "baby"), "v": (("found", "slept"), ("took", "fell"), ("liked", "laughed")),
                    "o": ("ball", "toy")}),
    "wh_island": (_SYN, "island_effects", "Who did the {s} say that Mom {v}?", "Who did the {s} ask what Mom {v}?",
                  {"s": ("boy", "girl", "baby"), "v": ("saw", "helped", "called")}),
    "wh_questions_object_gap": (_SYN, "filler_gap_dependency", "The {s} found the {o} that Mom {v}.",
                                "The {s} found what Mom {v} the {o}.",
                                {"s": KIDS, "o": ("ball", "key", "hat"), "v": ("hid", "lost")}),
    "wh_questions_subject_gap": (_SYN, "filler_gap_dependency", "The {s} saw the {a} who {v} the {o}.",
                                 "The {s} saw who the {a} {v} the {o}.",
                                 {"s": KIDS, "a": ("man", "lady"), "v": ("took", "found"), "o": ("cake", "ball")}),
    "wh_questions_subject_gap_long_distance": (
        _SYN, "filler_gap_dependency", "The {s} saw the {a} who we think {v} the {o}.",
        "The {s} saw who the {a} we think {v} the {o}.",
        {"s": KIDS, "a": ("man", "lady"), "v": ("took", "found"), "o": ("cake", "ball")}),
    "wh_vs_that_no_gap": (_SYN, "filler_gap_dependency", "The {s} knew that the {a} {v} the {o}.",
                          "The {s} knew who the {a} {v} the {o}.",
                          {"s": KIDS, "a": ("man", "lady"), "v": ("took", "found"), "o": ("cake", "ball")}),
    "wh_vs_that_no_gap_long_distance": (
        _SYN, "filler_gap_dependency", "The {s} knew that the {a} in the garden {v} the {o}.",
        "The {s} knew who the {a} in the garden {v} the {o}.",
        {"s": KIDS, "a": ("man", "lady"), "v": ("took", "found"), "o": ("cake", "ball")}),
    "wh_vs_that_with_gap": (_SYN, "filler_gap_dependency", "The {s} knew what the {a} {v}.", "The {s} knew that the {a} {v}.",
                            {"s": KIDS, "a": ("man", "lady", "dog"), "v": ("took", "found", "broke")}),
    "wh_vs_that_with_gap_long_distance": (
        _SYN, "filler_gap_dependency", "The {s} knew what the {a} in the garden {v}.",
        "The {s} knew that the {a} in the garden {v}.",
        {"s": KIDS, "a": ("man", "lady", "dog"), "v": ("took", "found", "broke")}),
}


def template_pairs(good: str, bad: str, slots: dict, rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` (good, bad) pairs from distinct fillings of the slots, drawn without replacement."""
    names = sorted(slots)
    fillings = [dict(zip(names, values)) for values in itertools.product(*(slots[n] for n in names))]
    return [(good.format(**f), bad.format(**f)) for f in rng.sample(fillings, count)]


def _words(sentence: str) -> list[str]:
    return re.findall(r"[\w']+", sentence.lower())


def _blimp_rows(uid: str, rng: random.Random) -> list[dict]:
    field, term, good_t, bad_t, slots = BLIMP_TEMPLATES[uid]
    rows = []
    for pair_id, (good, bad) in enumerate(template_pairs(good_t, bad_t, slots, rng, BLIMP_PAIRS)):
        g, b = _words(good), _words(bad)
        differing = sum(x != y for x, y in zip(g, b)) if len(g) == len(b) else -1
        rows.append({"sentence_good": good, "sentence_bad": bad, "field": field, "linguistics_term": term, "UID": uid,
                     "simple_LM_method": True, "one_prefix_method": differing == 1, "two_prefix_method": False,
                     "lexically_identical": sorted(g) == sorted(b), "pair_id": pair_id})
    return rows


# --- Supplement: (contrast, good template, bad twin, slots) ------------------------------------------

_QUESTIONS = {"person": ("Who did you see at the park?", "Who read you a story?", "Who is coming for dinner?"),
              "food": ("What did you have for lunch?", "What is in your bowl?"),
              "place": ("Where did you put the keys?", "Where is the cat sleeping?")}
_ANSWERS = {"easy": {"person": ("My grandma.", "The doctor.", "My teacher."),
                     "food": ("Some soup.", "An apple.", "A cookie."), "place": ("At home.", "In bed.", "At school.")},
            "tricky": {"person": ("Grandma.", "Teachers.", "Doctors."), "food": ("Soup.", "Apples.", "Cookies."),
                       "place": ("Upstairs.", "Outside.", "Home.")}}


def _qa(kind: str) -> tuple[str, str, str, dict]:
    """Question, fitting answer, answer of another kind: a dialogue whose reply must match the question."""
    rows = [(q, good, bad) for cat, questions in _QUESTIONS.items() for q in questions for good in _ANSWERS[kind][cat]
            for other in _ANSWERS[kind] if other != cat for bad in _ANSWERS[kind][other]]
    return ("answer type" + (" (tricky)" if kind == "tricky" else ""), "A: {x[0]} B: {x[1]}", "A: {x[0]} B: {x[2]}",
            {"x": rows})


SUPPLEMENT_TEMPLATES: dict[str, tuple[str, str, str, dict]] = {
    "hypernym": ("hyponym vs. hypernym", "A {h[0]} is a kind of {h[1]}.", "A {h[1]} is a kind of {h[0]}.",
                 {"h": (("robin", "bird"), ("rose", "flower"), ("carrot", "vegetable"), ("banana", "fruit"),
                        ("puppy", "dog"), ("kitten", "cat"), ("truck", "vehicle"), ("daisy", "plant"))}),
    "qa_congruence_easy": _qa("easy"),
    "qa_congruence_tricky": _qa("tricky"),
    "subject_aux_inversion": ("auxiliary of the main clause fronted", "Is the {n} that is {a} {b}?",
                              "Is the {n} that {a} is {b}?",
                              {"n": ("dog", "baby", "boy", "cat"), "a": ("sleeping", "smiling", "crying"),
                               "b": ("hungry", "happy", "tired")}),
    "turn_taking": ("pronoun of the answering speaker", "A: {x[0]} B: {x[1]}", "A: {x[0]} B: {x[2]}",
                    {"x": (("Do you want some milk?", "Yes, I do.", "Yes, you do."),
                           ("Are you tired?", "No, I am not.", "No, you are not."),
                           ("Did you see the bird?", "Yes, I saw it.", "Yes, you saw it."),
                           ("Can you help me?", "Yes, I can.", "Yes, you can."),
                           ("Is that your hat?", "Yes, it is mine.", "Yes, it is yours."),
                           ("Will you come with me?", "Yes, I will.", "Yes, you will."),
                           ("Do you like the song?", "Yes, I like it.", "Yes, you like it."))}),
}


# --- EWoK: (ConceptA, ConceptB, Context1, Context2, Target1, Target2); Context_i supports Target_i -----

EWOK_ITEMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "agent-properties": (
        ("see", "hear", "{a} covered both ears but kept both eyes open.", "{a} closed both eyes but kept both ears open.",
         "{a} can see the show.", "{a} can hear the show."),
        ("hungry", "full", "{a} has not eaten all day.", "{a} just ate a big dinner.", "{a} is hungry.", "{a} is full."),
        ("tired", "rested", "{a} stayed up very late last night.", "{a} slept for ten hours last night.",
         "{a} feels tired.", "{a} feels rested.")),
    "material-dynamics": (
        ("melt", "stay solid", "{a} left the ice cube in the sun.", "{a} left the ice cube in the freezer.",
         "The ice cube becomes water.", "The ice cube stays solid."),
        ("dry", "wet", "{a} hung the wet towel in the sun.", "{a} left the wet towel in a bag.",
         "The towel gets dry.", "The towel stays wet."),
        ("break", "bounce", "{a} dropped a glass on the hard floor.", "{a} dropped a rubber ball on the hard floor.",
         "It broke into pieces.", "It bounced back up.")),
    "material-properties": (
        ("soft", "hard", "{a} sank deep into the seat.", "{a} did not sink into the seat.",
         "The seat is soft.", "The seat is hard."),
        ("sticky", "smooth", "{a} touched the tape and a finger stuck to it.",
         "{a} touched the glass and a finger slid off it.", "It was sticky.", "It was smooth."),
        ("heavy", "light", "{a} could not lift the box alone.", "{a} lifted the box with one finger.",
         "The box is heavy.", "The box is light.")),
    "physical-dynamics": (
        ("roll", "slide", "{a} pushed the ball down the hill.", "{a} pushed the book down the hill.",
         "It rolled to the bottom.", "It slid to the bottom."),
        ("fall", "rise", "{a} let go of the stone.", "{a} let go of the balloon.",
         "It fell to the ground.", "It rose into the air."),
        ("fast", "slow", "{a} kicked the ball very hard.", "{a} tapped the ball very gently.",
         "The ball moved fast.", "The ball moved slowly.")),
    "physical-interactions": (
        ("wet", "dry", "{a} spilled water on the paper.", "{a} kept the paper in a drawer.",
         "The paper is wet.", "The paper is dry."),
        ("dented", "whole", "{a} hit the can with a hammer.", "{a} put the can on the shelf.",
         "The can has a dent.", "The can has no dent."),
        ("warm", "cold", "{a} held a cup of hot tea.", "{a} held a cup of ice.",
         "The hands of {a} got warm.", "The hands of {a} got cold.")),
    "physical-relations": (
        ("inside", "outside", "{a} put the toy in the box and closed the lid.",
         "{a} put the toy next to the box and closed the lid.", "The toy is inside the box.", "The toy is outside the box."),
        ("attached", "loose", "{a} glued the button to the card.", "{a} set the button on the card.",
         "The button is stuck to the card.", "The button is loose on the card."),
        ("covered", "uncovered", "{a} put a blanket over the baby.", "{a} took the blanket off the baby.",
         "The baby is under the blanket.", "The baby is out of the blanket.")),
    "quantitative-properties": (
        ("more", "fewer", "{a} has five apples and {b} has two.", "{a} has two apples and {b} has five.",
         "{a} has more apples than {b}.", "{a} has fewer apples than {b}."),
        ("taller", "shorter", "{a} can reach the top shelf but {b} cannot.", "{b} can reach the top shelf but {a} cannot.",
         "{a} is taller than {b}.", "{a} is shorter than {b}."),
        ("full", "empty", "{a} filled the jar to the top.", "{a} poured everything out of the jar.",
         "The jar is full.", "The jar is empty.")),
    "social-interactions": (
        ("help", "upset", "{a} picked up the blocks {b} dropped.", "{a} knocked over the tower {b} built.",
         "{a} helped {b}.", "{a} upset {b}."),
        ("thank", "blame", "{b} gave {a} a present.", "{b} broke the favorite toy of {a}.",
         "{a} said thank you to {b}.", "{a} got angry with {b}."),
        ("share", "keep", "{a} gave {b} half of the cookie.", "{a} ate the whole cookie alone.",
         "{a} shared with {b}.", "{a} did not share with {b}.")),
    "social-properties": (
        ("kind", "mean", "{a} always helps the other kids.", "{a} always pushes the other kids.", "{a} is kind.", "{a} is mean."),
        ("shy", "outgoing", "{a} hides behind the door when guests come.", "{a} runs to greet every new guest.",
         "{a} is shy.", "{a} is outgoing."),
        ("honest", "dishonest", "{a} told the truth about the broken vase.", "{a} blamed the dog for the broken vase.",
         "{a} was honest.", "{a} was dishonest.")),
    "social-relations": (
        ("friends", "strangers", "{a} and {b} play together every day.", "{a} and {b} have never met.",
         "{a} knows {b} well.", "{a} does not know {b}."),
        ("carer", "cared for", "{a} tucked little {b} into bed.", "Little {a} was tucked into bed by {b}.",
         "{a} takes care of {b}.", "{b} takes care of {a}."),
        ("teacher", "student", "{a} showed {b} how to read.", "{b} showed {a} how to read.",
         "{a} is the teacher.", "{b} is the teacher.")),
    "spatial-relations": (
        ("left", "right", "{a} put the cup to the left of the plate.", "{a} put the cup to the right of the plate.",
         "The plate is right of the cup.", "The plate is left of the cup."),
        ("above", "below", "{a} put the lamp on the shelf above the desk.", "{a} put the lamp on the shelf below the desk.",
         "The desk is under the lamp.", "The desk is over the lamp."),
        ("near", "far", "{a} lives next door to the school.", "{a} lives across town from the school.",
         "{a} walks to school in a minute.", "{a} takes a bus to school.")),
}
NAMES = ("Ali", "Maya", "Ben", "Lena", "Omar", "Sara", "Tom", "Zoe")
EWOK_KEYS = ("ConceptA", "ConceptB", "Context1", "Context2", "Target1", "Target2")


def _ewok_rows(domain: str, rng: random.Random) -> list[dict[str, str]]:
    """Each item as the pipeline's filter writes it: the original, then both contexts and targets swapped."""
    rows = []
    for item in rng.sample(EWOK_ITEMS[domain], len(EWOK_ITEMS[domain])):
        a, b = rng.sample(NAMES, 2)
        concept_a, concept_b, c1, c2, t1, t2 = (text.format(a=a, b=b) for text in item)
        base = {"Domain": domain, "ConceptA": concept_a, "ConceptB": concept_b, "ContextType": "short",
                "ContextDiff": "concept swap", "TargetDiff": "concept swap"}
        rows.append({**base, "Context1": c1, "Context2": c2, "Target1": t1, "Target2": t2})
        rows.append({**base, "Context1": c2, "Context2": c1, "Target1": t2, "Target2": t1})
    return rows


# --- Entity tracking: boxes simulated, so the gold option is what the operations leave ------------------

ENTITY_OBJECTS = {
    "regular": ("ball", "cup", "key", "shoe", "book", "hat", "coin", "bell", "leaf", "ring"),
    "ambiref": ("red ball", "blue ball", "big cup", "small cup", "red hat", "blue hat", "old key", "new key"),
    "move_contents": ("ball", "cup", "key", "shoe", "book", "hat", "coin", "bell", "leaf", "ring"),
}
ENTITY_BOXES = 3


def _contents(objects: list[str]) -> str:
    if not objects:
        return "nothing"
    names = [f"the {o}" for o in objects]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _entity_item(split: str, numops: int, rng: random.Random) -> tuple[str, list[str]]:
    """(input_prefix, options): a start state, ``numops`` operations, the question about one box; gold first."""
    pool = list(ENTITY_OBJECTS[split])
    rng.shuffle(pool)
    boxes = [[] for _ in range(ENTITY_BOXES)]
    for obj in pool[:ENTITY_BOXES + 1]:
        boxes[rng.randrange(ENTITY_BOXES)].append(obj)
    spare = pool[ENTITY_BOXES + 1:]
    seen = [set(box) for box in boxes]  # everything each box has held: the tempting wrong answers
    state = ", ".join(f"Box {i} contains {_contents(box)}" for i, box in enumerate(boxes)) + "."
    operations, query = [], rng.randrange(ENTITY_BOXES)
    for _ in range(numops):
        full = [i for i, box in enumerate(boxes) if box]
        kinds = ["move", "remove"] * bool(full) + ["put"] * bool(spare)
        if split == "move_contents" and full:
            kinds += ["contents", "contents"]
        kind = rng.choice(kinds)
        if kind == "put":
            obj, query = spare.pop(), rng.randrange(ENTITY_BOXES)
            boxes[query].append(obj)
            operations.append(f"Put the {obj} into Box {query}.")
        else:
            source = rng.choice(full)
            target = rng.choice([i for i in range(ENTITY_BOXES) if i != source])
            if kind == "contents":
                operations.append(f"Move the contents of Box {source} to Box {target}.")
                boxes[target] += boxes[source]
                boxes[source], query = [], target
            elif kind == "move":
                obj = rng.choice(boxes[source])
                boxes[source].remove(obj)
                boxes[target].append(obj)
                operations.append(f"Move the {obj} from Box {source} to Box {target}.")
                query = rng.choice((source, target))
            else:
                obj = rng.choice(boxes[source])
                boxes[source].remove(obj)
                spare.insert(0, obj)
                operations.append(f"Remove the {obj} from Box {source}.")
                query = source
        for i, box in enumerate(boxes):
            seen[i].update(box)
    gold = boxes[query]
    if gold:  # one object swapped for another, keeping the count (and so the length) of the answer
        others = sorted(seen[query] - set(gold)) or sorted(set(pool) - set(gold))
        wrong = list(gold)
        wrong[rng.randrange(len(wrong))] = rng.choice(others)
    else:
        wrong = [rng.choice(sorted(seen[query]) or pool)]
    prefix = " ".join([state, *operations, f"Box {query} contains "])
    return prefix, [_contents(gold) + ".", _contents(wrong) + "."]


def _entity_rows(split: str, rng: random.Random) -> list[dict]:
    """Sorted by numops from 0, as the organizers' recomputation assumes."""
    rows = []
    for numops in NUMOPS:
        for example_id in range(ENTITY_ITEMS):
            prefix, options = _entity_item(split, numops, rng)
            rows.append({"sample_id": len(rows), "numops": numops, "input_prefix": prefix, "options": options,
                         "example_id": example_id})
    return rows


# --- WUG: made-up adjectives and verbs (none of them an English word, by wordfreq) ------------------------

ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "bl", "gr", "pl", "sn", "tr")
# adjective suffix -> (noun in -ity, noun in -ness, mean human share of the -ity noun, invented)
ADJ_SUFFIXES = {"able": ("ability", "ableness", 0.6), "ive": ("ivity", "iveness", 0.5), "ous": ("osity", "ousness", 0.55),
                "al": ("ality", "alness", 0.45), "ic": ("icity", "icness", 0.4), "id": ("idity", "idness", 0.35)}
# present rime -> irregular past rime, after the pattern of sing/sang, ride/rode and the like
PAST_RIMES = {"ing": "ang", "ink": "ank", "ide": "ode", "eep": "ept", "ear": "ore", "ow": "ew"}


def _is_pseudo(*words: str) -> bool:
    from wordfreq import zipf_frequency

    return all(zipf_frequency(w, "en") == 0 for w in words)


def _wug_adj_rows(rng: random.Random) -> list[dict]:
    rows, used = [], set()
    while len(rows) < WUG_ADJ_ROWS:
        suffix = rng.choice(sorted(ADJ_SUFFIXES))
        ity, ness, share = ADJ_SUFFIXES[suffix]
        stem = rng.choice(ONSETS) + rng.choice("aeiou") + rng.choice("bdglmnprt")
        adj = stem + suffix
        if adj in used or not _is_pseudo(adj, stem + ity, stem + ness):
            continue
        used.add(adj)
        prompt = f"Create a noun out of the following adjective: {adj}."
        ratio = round(min(1.0, max(0.0, rng.gauss(share, 0.15))), 2)
        rows.append({"sentences": f"{prompt} {stem + ity}\t{prompt} {stem + ness}", "ratio": ratio})
    return rows


def _wug_past_rows(rng: random.Random) -> list[dict]:
    rows, used = [], set()
    while len(rows) < WUG_PAST_ROWS:
        rime = rng.choice(sorted(PAST_RIMES))
        onset = rng.choice(ONSETS)
        verb = onset + rime
        regular = verb + ("d" if verb.endswith("e") else "ed")
        if verb in used or not _is_pseudo(verb, regular, onset + PAST_RIMES[rime]):
            continue
        used.add(verb)
        prompt = f"Create the past tense of the following verb: {verb}."
        ratio = round(min(1.0, max(0.0, rng.gauss(0.7, 0.15))), 2)
        rows.append({"sentences": f"{prompt} {regular}\t{prompt} {onset + PAST_RIMES[rime]}", "ratio": ratio})
    return rows


# --- COMPS: (property, concept that has it, one that does not, kind of negative) -----------------------

COMPS_FACTS = (
    ("can fly", "robin", "penguin", "taxonomic"), ("lays eggs", "hen", "cow", "random"),
    ("has stripes", "zebra", "horse", "taxonomic"), ("keeps food cold", "fridge", "oven", "co-occurrence"),
    ("cuts bread", "knife", "spoon", "co-occurrence"), ("gives milk", "cow", "pig", "taxonomic"),
    ("has wheels", "bike", "boat", "random"), ("tells the time", "clock", "lamp", "random"),
    ("lives in water", "fish", "dog", "taxonomic"), ("has a shell", "turtle", "frog", "taxonomic"),
    ("absorbs sweat", "sock", "helmet", "co-occurrence"), ("makes honey", "bee", "fly", "taxonomic"),
)
COMPS_WUGS = ("wug", "dax", "fep", "blick", "toma", "zib")


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _comps_rows(stem: str, rng: random.Random) -> list[dict]:
    rows = []
    for fact_id in sorted(rng.sample(range(len(COMPS_FACTS)), COMPS_ROWS)):
        prop, good, bad, kind = COMPS_FACTS[fact_id]
        wug, dax = rng.sample(COMPS_WUGS, 2)

        def prefix(first: str, second: str) -> str:
            said = f"A {wug} is {_a(first)}."
            if stem == "comps_base":
                return _a(first).capitalize()
            if stem == "comps_wugs":
                return f"{said} Therefore, a {wug}"
            other = f"A {dax} is {_a(second)}."
            both = f"{other} {said}" if stem == "comps_wugs_dist-before" else f"{said} {other}"
            return f"{both} Therefore, a {wug}"

        rows.append({"id": fact_id, "property": prop, "acceptable_concept": good, "unacceptable_concept": bad,
                     "prefix_acceptable": prefix(good, bad), "prefix_unacceptable": prefix(bad, good),
                     "property_phrase": prop + ".", "negative_sample_type": kind,
                     "similarity": round(rng.uniform(0.1, 0.8), 3)})
    return rows


# --- Reading: words of short sentences with synthetic reading times --------------------------------------

READING_TEXTS = (
    "The little dog chased a ball.", "My mother baked bread this morning.", "The children played in the garden.",
    "Grandpa read the story very slowly.", "The cat slept on the sofa.", "We walked home after the rain.",
    "The baby laughed at the clown.", "Tom found a shiny red shell.", "The farmer fed the hungry pigs.",
    "She painted the fence bright blue.", "The train left the station early.", "Our teacher told a funny joke.",
    "The old man fixed the bike.", "Two ducks swam across the pond.", "The girl wore her new boots.",
    "Dad cooked soup for the family.", "The wind blew the leaves away.",
)
EEG_COLUMNS = ("ELAN", "LAN", "N400", "P600", "EPNP", "PNP")


def _reading_csv(rng: random.Random) -> str:
    """The pipeline's reading table; an empty context (a sentence's first word) is left blank, i.e. NaN."""
    import pandas as pd
    from wordfreq import zipf_frequency

    records = []
    for sent_id, sentence in enumerate(rng.sample(READING_TEXTS, READING_SENTENCES), start=1):
        words = sentence.split()
        for position, word in enumerate(words):
            bare = word.strip(".,").lower()
            freq = round(zipf_frequency(bare, "en") - 3, 2)
            first_fix = 200 + 12 * len(word) - 15 * freq + rng.gauss(0, 20)
            first_pass = first_fix + abs(rng.gauss(0, 30))
            go_past, right = first_pass + abs(rng.gauss(0, 40)), first_pass + abs(rng.gauss(0, 15))
            skipped = rng.random() < 0.1
            spr = 300 + 8 * len(word) - 10 * freq + rng.gauss(0, 25)
            previous = words[position - 1] if position else None
            records.append({
                "item": " ".join(words[:position]) or None, "word": word, "word2": bare, "sentence": sentence,
                "context_length": position, "sent_id": sent_id, "item_id": position + 1, "list": 1 + sent_id % 2,
                "Subtlex_log10": freq, "length": len(word),
                **{c: (math.nan if skipped else round(v, 1)) for c, v in
                   (("RTfirstfix", first_fix), ("RTfirstpass", first_pass), ("RTgopast", go_past), ("RTrightbound", right))},
                "self_paced_reading_time": math.nan if rng.random() < 0.03 else round(spr, 1),
                **{c: round(rng.gauss(0, 1), 3) for c in EEG_COLUMNS},
                "prev_word": previous, "prev_item": (" ".join(words[:position - 1]) or None) if position else None,
                "prev_length": len(previous) if previous else math.nan})
    return pd.DataFrame(records).to_csv(lineterminator="\n")


# --- Age of acquisition: child words, their contexts, and sigmoid growth of the share of children -------

CDI_WORDS = ("dog", "ball", "milk", "cat", "shoe", "book", "car", "cookie", "juice", "bath", "duck", "hat")
CDI_FRAMES = ("Can you find the", "Look at the little", "Where is your", "I want my", "Please give me the",
              "She picked up the", "We can play with the", "Do you see the big")
CDI_AGES = range(16, 31)


def _cdi_files(rng: random.Random) -> tuple[str, str]:
    childes = {word: [{"context": frame, "word_in_context_stats": {"count": 1}} for frame in rng.sample(CDI_FRAMES, 3)]
               for word in CDI_WORDS}
    lines = [",".join(["word", *map(str, CDI_AGES)])]
    for word in CDI_WORDS:
        midpoint, slope = rng.uniform(17, 29), rng.uniform(0.4, 1.0)
        lines.append(",".join([word, *(f"{1 / (1 + math.exp(-slope * (age - midpoint))):.3f}" for age in CDI_AGES)]))
    return json.dumps(childes, ensure_ascii=False, indent=1) + "\n", "\n".join(lines) + "\n"


# --- Writing ---------------------------------------------------------------------------------------------


def write_babylm_sample(out_dir: Path, rng: random.Random) -> None:
    """Write ``out_dir/evaluation_data/{full_eval,fast_eval}/...``; the fast files are the first rows of the full ones."""
    full, fast = Path(out_dir) / "evaluation_data" / "full_eval", Path(out_dir) / "evaluation_data" / "fast_eval"
    for uid in BLIMP_UIDS:
        rows = _blimp_rows(uid, rng)
        write_jsonl(full / "blimp_filtered" / f"{uid}.jsonl", rows)
        write_jsonl(fast / "blimp_fast" / f"{uid}.jsonl", rows[:FAST_PAIRS])
    for uid in SUPPLEMENT_UIDS:
        contrast, good, bad, slots = SUPPLEMENT_TEMPLATES[uid]
        rows = [{"row": i, "sentence_good": g, "sentence_bad": b, "contrast": contrast}
                for i, (g, b) in enumerate(template_pairs(good, bad, slots, rng, SUPPLEMENT_PAIRS))]
        write_jsonl(full / "supplement_filtered" / f"{uid}.jsonl", rows)
        write_jsonl(fast / "supplement_fast" / f"{uid}.jsonl", rows[:FAST_PAIRS])
    for domain in EWOK_DOMAINS:
        rows = _ewok_rows(domain, rng)
        write_jsonl(full / "ewok_filtered" / f"{domain}.jsonl", rows)
        write_jsonl(fast / "ewok_fast" / f"{domain}.jsonl", rows[:EWOK_FAST_ROWS])
    for split in ENTITY_SPLITS:
        rows = _entity_rows(split, rng)
        write_jsonl(full / "entity_tracking" / f"{split}.jsonl", rows)
        if split == "regular":
            write_jsonl(fast / "entity_tracking_fast" / f"{split}.jsonl", rows)
    for kind, make in (("adj", _wug_adj_rows), ("past", _wug_past_rows)):
        folder, rows = WUG_FOLDERS[kind], make(rng)
        for root in (full, fast):
            write_jsonl(root / folder / f"{folder}.jsonl", rows)
    for stem in COMPS_STEMS:
        write_jsonl(full / "comps" / f"{stem}.jsonl", _comps_rows(stem, rng))
    reading = _reading_csv(rng)
    for root in (full, fast):
        atomic_write_text(root / "reading" / "reading_data.csv", reading)
    childes, human = _cdi_files(rng)
    atomic_write_text(full / "aoa" / "cdi_childes.json", childes)
    atomic_write_text(full / "aoa" / "cdi_human.csv", human)
