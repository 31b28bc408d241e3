"""A small, offline stand-in for the task data, generated from our own templates and word lists.

The tests and a first run need data without a network or a download, and hand-made rows would drift
from the layout that :mod:`e2lm_bench.taskdata.sources` reads. So this module writes the same layout from a seed,
and the committed copy in ``sample_data/`` is regenerated here rather than edited::

    python -m e2lm_bench.taskdata.sample

Nothing is taken from the public datasets: every sentence, exchange and word below is our own. The BabyLM
2025 part (``evaluation_data/``) is written by :mod:`e2lm_bench.taskdata.babylm_sample`, from a random
generator of its own, so adding it left the earlier files byte-identical.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.taskdata.babylm_sample import write_babylm_sample
from e2lm_bench.taskdata.readers import write_jsonl
from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS

SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "sample_data"
ZORRO_PAIRS = 12
LEXICAL_ROWS = 60

# --- Zorro-style minimal pairs ---------------------------------------------------------------------

# The first three are animals, so they can be the subject of any verb below.
NOUNS = (("dog", "dogs"), ("cat", "cats"), ("duck", "ducks"), ("ball", "balls"), ("book", "books"), ("cup", "cups"))


def _det_noun() -> list[tuple[str, str, str]]:
    """(determiner, noun that agrees with it, noun that does not), both numbers."""
    singular = [(d, s, p) for d in ("this", "that") for s, p in NOUNS]
    return singular + [(d, p, s) for d in ("these", "those") for s, p in NOUNS]


def _subject(good_sg: str, good_pl: str) -> list[tuple[str, str, str]]:
    """(subject noun, verb form that agrees with it, one that does not), both numbers."""
    return [(s, good_sg, good_pl) for s, p in NOUNS[:3]] + [(p, good_pl, good_sg) for s, p in NOUNS[:3]]


# Each paradigm: (grammatical template, ungrammatical twin, slots). A slot value is a word or a tuple
# of forms the templates index, so the twin differs from the good sentence only where the contrast is.
ZORRO_TEMPLATES: dict[str, tuple[str, str, dict[str, tuple]]] = {
    "agreement_determiner_noun-across_1_adjective": (
        "look at {x[0]} {a} {x[1]} .", "look at {x[0]} {a} {x[2]} .",
        {"x": _det_noun(), "a": ("big", "red", "little")}),
    "agreement_determiner_noun-between_neighbors": (
        "{v} {x[0]} {x[1]} .", "{v} {x[0]} {x[2]} .",
        {"x": _det_noun(), "v": ("look at", "i like", "give me")}),
    "agreement_subject_verb-across_prepositional_phrase": (
        "the {s[0]} near the {o} {s[1]} {a} .", "the {s[0]} near the {o} {s[2]} {a} .",
        {"s": _subject("is", "are"), "o": ("tree", "boxes", "door"), "a": ("happy", "wet", "small")}),
    "agreement_subject_verb-across_relative_clause": (
        "the {s[0]} that i {v} {s[1]} {a} .", "the {s[0]} that i {v} {s[2]} {a} .",
        {"s": _subject("is", "are"), "v": ("like", "found", "saw"), "a": ("soft", "dirty", "new")}),
    "agreement_subject_verb-in_question_with_aux": (
        "{s[1]} the {s[0]} {v} the {o} ?", "{s[2]} the {s[0]} {v} the {o} ?",
        {"s": _subject("does", "do"), "v": ("like", "want", "need"), "o": ("bath", "bed", "toy")}),
    "agreement_subject_verb-in_simple_question": (
        "{w} {s[1]} the {s[0]} ?", "{w} {s[2]} the {s[0]} ?",
        {"s": _subject("is", "are"), "w": ("where", "what color", "how big")}),
    "anaphor_agreement-pronoun_gender": (
        "the {n[0]} {v} {n[1]} .", "the {n[0]} {v} {n[2]} .",
        {"n": (("boy", "himself", "herself"), ("girl", "herself", "himself"), ("man", "himself", "herself"),
               ("woman", "herself", "himself"), ("king", "himself", "herself"), ("queen", "herself", "himself")),
         "v": ("washed", "saw", "hurt")}),
    "argument_structure-dropped_argument": (
        "{n} put it on the {p} .", "{n} put on the {p} .",
        {"n": ("mommy", "daddy", "the boy", "the girl", "grandma", "the baby"),
         "p": ("table", "bed", "shelf", "chair")}),
    "argument_structure-swapped_arguments": (
        "the {a} {x[0]} the {x[1]} .", "the {x[1]} {x[0]} the {a} .",
        {"a": ("boy", "girl", "baby", "puppy"),
         "x": (("ate", "apple"), ("ate", "cookie"), ("kicked", "ball"), ("read", "book"), ("drank", "milk"))}),
    "argument_structure-transitive": (
        "the {n} {v[0]} the {o} .", "the {n} {v[1]} the {o} .",
        {"n": ("boy", "girl", "baby"), "o": ("ball", "toy", "cup"),
         "v": (("took", "slept"), ("found", "fell"), ("liked", "laughed"), ("wanted", "cried"))}),
    "binding-principle_a": (
        "the {n[0]} {v} {n[1]} .", "{n[1]} {v} the {n[0]} .",
        {"n": (("boy", "himself"), ("girl", "herself"), ("man", "himself"), ("woman", "herself"),
               ("kids", "themselves")),
         "v": ("saw", "washed", "helped", "hurt")}),
    "case-subjective_pronoun": (
        "{p[0]} {v} the {o} .", "{p[1]} {v} the {o} .",
        {"p": (("he", "him"), ("she", "her"), ("they", "them"), ("we", "us"), ("i", "me")),
         "v": ("saw", "liked", "took"), "o": ("ball", "dog", "book")}),
    "ellipsis-n_bar": (
        "{p[0]} has one {a} {n} and {p[1]} has two .", "{p[0]} has one {n} and {p[1]} has two {a} .",
        {"p": (("mommy", "daddy"), ("sam", "lily")), "a": ("red", "big", "new"), "n": ("ball", "hat", "car", "cup")}),
    "filler-gap-wh_question_object": (
        "what did the {n} {v[0]} ?", "what did the {n} {v[0]} the {v[1]} ?",
        {"n": ("boy", "girl", "baby", "dog"),
         "v": (("eat", "cake"), ("find", "ball"), ("see", "car"), ("want", "toy"))}),
    "filler-gap-wh_question_subject": (
        "who {v} the {o} ?", "who she {v} the {o} ?",
        {"v": ("took", "broke", "found", "wanted"), "o": ("cup", "cookie", "ball", "hat")}),
    "irregular-verb": (
        "the {n} {v[0]} {v[2]} .", "the {n} {v[1]} {v[2]} .",
        {"n": ("boy", "girl", "baby"),
         "v": (("went", "goed", "home"), ("ate", "eated", "the cake"), ("ran", "runned", "away"),
               ("fell", "falled", "down"), ("threw", "throwed", "the ball"), ("drank", "drinked", "the milk"),
               ("broke", "breaked", "the cup"))}),
    "island-effects-adjunct_island": (
        "what did the {n} {v[0]} before {g[0]} the {g[1]} ?", "what did the {n} {v[0]} the {v[1]} before {g[0]} ?",
        {"n": ("boy", "girl"), "v": (("eat", "cake"), ("read", "book"), ("find", "hat")),
         "g": (("washing", "cup"), ("feeding", "dog"), ("making", "bed"))}),
    "island-effects-coordinate_structure_constraint": (
        "what did the {n} {v[0]} and {v[1]} ?", "what did the {n} {v[0]} the {v[2]} and {v[1]} ?",
        {"n": ("boy", "girl", "man", "lady"),
         "v": (("wash", "dry", "cup"), ("make", "eat", "cake"), ("find", "keep", "ball"), ("buy", "read", "book"))}),
    "local_attractor-in_question_with_aux": (
        "{s[1]} the {s[0]} near the {s[3]} {a} ?", "{s[2]} the {s[0]} near the {s[3]} {a} ?",
        {"s": [(s, "is", "are", p2) for s, _ in NOUNS[:3] for _, p2 in NOUNS[3:]]
              + [(p, "are", "is", s2) for _, p in NOUNS[:3] for s2, _ in NOUNS[3:]],
         "a": ("wet", "ready")}),
    "npi_licensing-matrix_question": (
        "did the {n} ever {v[0]} a {v[1]} ?", "the {n} did ever {v[0]} a {v[1]} .",
        {"n": ("boy", "girl", "baby", "dog"),
         "v": (("see", "lion"), ("eat", "lemon"), ("ride", "horse"), ("read", "comic"))}),
    "npi_licensing-only_npi_licensor": (
        "only the {n} ever {v[0]} a {v[1]} .", "even the {n} ever {v[0]} a {v[1]} .",
        {"n": ("boy", "girl", "baby", "dog"),
         "v": (("saw", "lion"), ("ate", "lemon"), ("rode", "horse"), ("read", "comic"))}),
    "quantifiers-existential_there": (
        "there are {q[0]} {n} in the {p} .", "there are {q[1]} {n} in the {p} .",
        {"q": (("some", "all"), ("many", "most"), ("two", "both")), "n": ("dogs", "cats", "ducks", "books"),
         "p": ("box", "yard", "bath")}),
    "quantifiers-superlative": (
        "no {n} {v[0]} {q[0]} {k} {v[1]} .", "no {n} {v[0]} {q[1]} {k} {v[1]} .",
        {"q": (("more than", "at least"), ("fewer than", "at most")), "n": ("boy", "girl", "dog"),
         "v": (("ate", "cookies"), ("saw", "birds"), ("found", "shells")), "k": ("two", "three")}),
}


def zorro_pairs(paradigm: str, rng: random.Random) -> list[tuple[str, str]]:
    """``ZORRO_PAIRS`` (good, bad) pairs drawn without replacement from the paradigm's template."""
    good, bad, slots = ZORRO_TEMPLATES[paradigm]
    names = sorted(slots)
    fillings = [dict(zip(names, values)) for values in itertools.product(*(slots[n] for n in names))]
    return [(good.format(**f), bad.format(**f)) for f in rng.sample(fillings, ZORRO_PAIRS)]


# --- Dialogue minimal pairs ------------------------------------------------------------------------

# Dialogue variant -> what "the same length" means for its distractor (see :func:`length_matched`).
DIALOGUE_MATCH = {"words": "words", "tokens": "chars"}


def length_matched(chosen: str, others: list[str], by: str) -> list[str]:
    """The ``others`` that match ``chosen`` in length, so that length cannot give the answer away.

    ``by="words"`` keeps those with the same word count, ``by="chars"`` those closest in characters.
    """
    if by == "words":
        return [other for other in others if len(other.split()) == len(chosen.split())]
    gap = min(abs(len(other) - len(chosen)) for other in others)
    return [other for other in others if abs(len(other) - len(chosen)) == gap]


# (caregiver turn, child reply) in CHAT spacing, 40 exchanges; each reply answers its own turn only.
EXCHANGES = (
    ("do you want some juice ?", "juice please ."),
    ("where did the ball go ?", "under the sofa ."),
    ("what does the cow say ?", "moo ."),
    ("are you sleepy ?", "no not sleepy ."),
    ("who is that at the door ?", "it is grandpa !"),
    ("what color is your hat ?", "blue ."),
    ("shall we read a book ?", "the duck book !"),
    ("how many fingers do you have ?", "this many ."),
    ("what are you building ?", "a big tower ."),
    ("did you wash your hands ?", "all clean ."),
    ("where is your nose ?", "here it is ."),
    ("what did you eat for lunch ?", "noodles and peas ."),
    ("is the bath too hot ?", "too hot !"),
    ("can you help me tidy up ?", "blocks in the box ."),
    ("what is the doggy doing ?", "he is sleeping ."),
    ("do you want to go outside ?", "go on the swing ."),
    ("what happened to your knee ?", "i fell down ."),
    ("who gave you that teddy ?", "auntie did ."),
    ("which shoes do you want ?", "the red ones ."),
    ("what sound does a train make ?", "choo choo ."),
    ("are you hungry ?", "want a banana ."),
    ("where are we going today ?", "to the park ?"),
    ("what is in the box ?", "a little car ."),
    ("can you say bye bye to daddy ?", "bye daddy ."),
    ("what shall we draw ?", "a big sun ."),
    ("is it raining outside ?", "yes wet ."),
    ("what is your name ?", "my name is ben ."),
    ("how old are you ?", "two ."),
    ("do you like the cake ?", "yummy cake ."),
    ("where does the fish live ?", "in the water ."),
    ("what is the baby doing ?", "baby crying ."),
    ("who wants a cuddle ?", "me me me !"),
    ("what did the bunny eat ?", "a carrot ."),
    ("shall we sing a song ?", "the star song !"),
    ("why are you crying ?", "i bumped my head ."),
    ("what is the weather like ?", "very sunny ."),
    ("where did you put your cup ?", "on the table ."),
    ("can you count the ducks ?", "one two three ."),
    ("what does the kitty want ?", "some milk ."),
    ("is your tummy full ?", "full up ."),
)


def _dialogue_rows(rng: random.Random, by: str) -> list[dict[str, str]]:
    """Each exchange with a length-matched reply from another exchange as the distractor, drawn by ``rng``."""
    replies = [f"*CHI: {chi}" for _, chi in EXCHANGES]
    rows = []
    for i, (mot, _) in enumerate(EXCHANGES):
        chosen = replies[i]
        pool = length_matched(chosen, [r for r in replies if r != chosen], by)
        rows.append({"prompt": f"*MOT: {mot}", "chosen": chosen, "rejected": rng.choice(pool)})
    rng.shuffle(rows)
    return rows


# --- Lexical decision ------------------------------------------------------------------------------

# Common words for small children, each starting with a consonant: the lexemes and the onsets for wugs.
# Mostly two syllables, whose rimes rarely make another word under a new onset.
REAL_WORDS = tuple(sorted("""
    balloon banana basket biscuit blanket boat bottle button cabbage candle carrot chair cheese chicken
    dinner dinosaur doctor dragon feather garden giraffe girl goat grass hammer helmet horse jacket
    jelly ladder lemon lettuce lion melon monkey muffin napkin noodle peanut pencil pepper picnic pillow
    pirate pocket popcorn potato puppy rabbit rainbow robot rocket sandal sandwich sausage shoe slipper
    spider spoon star sunshine supper table teddy tomato tractor tree turtle wagon window wizard zebra
""".split()))
# English words and names that swapping onsets within REAL_WORDS can make (found once with a spelling
# dictionary and by eye); a wug is never one of them. Words whose swaps give rude or offensive strings
# are left out of REAL_WORDS instead.
OTHER_REAL_WORDS = frozenset("""
    babbage badder belly billow blair boodle cable casket char chipper cion coat dandle debra demon dion
    docket donkey doodle fable felon gable gammer gasket gorse guppy handle harden heather hepper hurtle
    hutton jammer leather lizard locket mable madder moat morse mottle mutton neddy nelly norse packet
    parrot pinner pion poodle puffin racket rammer randal sable sadder shipper shoon sinner slider sloe
    socket spar stair sutton telly tinner tripper wabbit walloon warden weather welly willow winner
    worse zion
""".split())
VOWELS = "aeiou"


def _split_onset(word: str) -> tuple[str, str]:
    """(initial consonant cluster, rest from the first vowel letter on)."""
    cut = next(i for i, ch in enumerate(word) if ch in VOWELS)
    return word[:cut], word[cut:]


def _lexical_rows(rng: random.Random) -> list[dict[str, str]]:
    """Each sampled word with a pseudo-word of its length: its onset replaced by another one from the list.

    An onset plus an existing rime stays pronounceable, and an equal-length onset keeps the length, so
    only lexicality separates the two.
    """
    onsets = sorted({_split_onset(w)[0] for w in REAL_WORDS})
    used = set(REAL_WORDS) | OTHER_REAL_WORDS
    rows = []
    for word in rng.sample(REAL_WORDS, LEXICAL_ROWS):
        onset, rime = _split_onset(word)
        wugs = [o + rime for o in onsets if len(o) == len(onset) and o + rime not in used]
        wug = rng.choice(wugs)
        used.add(wug)
        rows.append({"lexeme": word, "wug": wug})
    return rows


# --- Early-science multiple choice ------------------------------------------------------------------

# (question template, fact table): each row of a table is (subject of the question, its answer); the
# wrong choices are other answers of the same table, so every choice is a plausible answer type.
SCIENCE_FACTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "chemistry": ("What is the chemical symbol of {}?", (
        ("oxygen", "O"), ("iron", "Fe"), ("sodium", "Na"), ("gold", "Au"), ("silver", "Ag"), ("carbon", "C"),
        ("hydrogen", "H"), ("helium", "He"), ("potassium", "K"), ("copper", "Cu"), ("lead", "Pb"),
        ("nitrogen", "N"), ("calcium", "Ca"), ("mercury", "Hg"), ("tin", "Sn"), ("zinc", "Zn"), ("neon", "Ne"),
        ("chlorine", "Cl"), ("sulfur", "S"), ("magnesium", "Mg"))),
    "astronomy": ("Which planet is the {} planet from the Sun?", (
        ("first", "Mercury"), ("second", "Venus"), ("third", "Earth"), ("fourth", "Mars"), ("fifth", "Jupiter"),
        ("sixth", "Saturn"), ("seventh", "Uranus"), ("eighth", "Neptune"))),
    "biology": ("To which class of animals does the {} belong?", (
        ("whale", "mammals"), ("bat", "mammals"), ("penguin", "birds"), ("eagle", "birds"), ("crocodile", "reptiles"),
        ("tortoise", "reptiles"), ("salmon", "fish"), ("shark", "fish"), ("frog", "amphibians"),
        ("salamander", "amphibians"), ("beetle", "insects"), ("butterfly", "insects"))),
    "physics": ("What is the SI unit of {}?", (
        ("force", "newton"), ("energy", "joule"), ("power", "watt"), ("electric charge", "coulomb"),
        ("electric current", "ampere"), ("pressure", "pascal"), ("frequency", "hertz"), ("temperature", "kelvin"),
        ("mass", "kilogram"), ("electrical resistance", "ohm"), ("voltage", "volt"), ("time", "second"))),
    "anatomy": ("Which organ of the human body {}?", (
        ("pumps blood around the body", "the heart"), ("filters blood to make urine", "the kidneys"),
        ("exchanges oxygen and carbon dioxide", "the lungs"), ("produces bile", "the liver"),
        ("produces insulin", "the pancreas"), ("stores bile", "the gallbladder"),
        ("absorbs most nutrients from food", "the small intestine"), ("controls the nervous system", "the brain"))),
    "earth science": ("What is the name of {}?", (
        ("the outermost solid layer of the Earth", "the crust"), ("the layer of the Earth below the crust", "the mantle"),
        ("the layer of air closest to the Earth's surface", "the troposphere"),
        ("the layer of the atmosphere that holds most ozone", "the stratosphere"),
        ("molten rock below the Earth's surface", "magma"), ("molten rock that reaches the surface", "lava"),
        ("rock formed from cooled magma or lava", "igneous rock"), ("rock formed from layers of sediment", "sedimentary rock"))),
}
# The same facts asked the other way round, where the answer is unique.
SCIENCE_REVERSED = {
    "chemistry": "Which element has the chemical symbol {}?",
    "physics": "The {} is the SI unit of which quantity?",
    "anatomy": "What does {} do?",
    "earth science": "What is {}?",
}
SCIENCE_DEV_PER_TABLE = 1


def _science_tables() -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    tables = [(subject, template, facts) for subject, (template, facts) in sorted(SCIENCE_FACTS.items())]
    for subject, template in sorted(SCIENCE_REVERSED.items()):
        facts = tuple((answer, topic) for topic, answer in SCIENCE_FACTS[subject][1])
        tables.append((subject, template, facts))
    return tables


def _science_docs(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Four-way cloze items (question, choices, gold index) from the fact tables; each table's first row goes to dev."""
    test, dev = [], []
    for table, (subject, template, facts) in enumerate(_science_tables()):
        answers = sorted({answer for _, answer in facts})
        for number, (topic, gold) in enumerate(facts):
            wrong = rng.sample([a for a in answers if a != gold], 3)
            choices = wrong[:]
            choices.insert(rng.randrange(4), gold)
            doc = {"id": f"sample/{table}/{number}", "question": template.format(topic), "choices": choices,
                   "answer": choices.index(gold), "subject": subject, "source": "e2lm-bench sample"}
            (dev if number < SCIENCE_DEV_PER_TABLE else test).append(doc)
    return test, dev


# --- Writing ---------------------------------------------------------------------------------------


def write_sample_data(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the whole sample layout under ``out_dir``; the same seed gives byte-identical files."""
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    for paradigm in sorted(ZORRO_PARADIGMS):
        lines = [line for pair in zorro_pairs(paradigm, rng) for line in pair]
        atomic_write_text(out_dir / "zorro" / f"{paradigm}.txt", "\n".join(lines))
    for variant, by in DIALOGUE_MATCH.items():
        write_jsonl(out_dir / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl", _dialogue_rows(rng, by))
    write_jsonl(out_dir / "lexical_decision" / "lexical_decision.jsonl", _lexical_rows(rng))
    test, dev = _science_docs(rng)
    write_jsonl(out_dir / "early_science" / "test.jsonl", test)
    write_jsonl(out_dir / "early_science" / "dev.jsonl", dev)
    write_babylm_sample(out_dir, random.Random(seed))
    return out_dir


def sample_texts(data_dir: str | Path = SAMPLE_DATA_DIR) -> list[str]:
    """Every sentence, turn and word of a data folder in this layout, for training a small tokenizer."""
    from e2lm_bench.taskdata.readers import read_jsonl, read_pair_lines
    from e2lm_bench.taskdata.sources import DIALOGUE_FIELDS, LEXICAL_FIELDS

    data_dir = Path(data_dir)
    texts = []
    for path in sorted((data_dir / "zorro").glob("*.txt")):
        texts += [s for pair in read_pair_lines(path) for s in (pair["sentence_good"], pair["sentence_bad"])]
    for path in sorted((data_dir / "dialogue_minpairs").glob("*.jsonl")):
        texts += [row[f] for row in read_jsonl(path, DIALOGUE_FIELDS) for f in DIALOGUE_FIELDS]
    texts += [row[f] for row in read_jsonl(data_dir / "lexical_decision" / "lexical_decision.jsonl", LEXICAL_FIELDS)
              for f in LEXICAL_FIELDS]
    return texts


if __name__ == "__main__":
    print(write_sample_data(SAMPLE_DATA_DIR, seed=0))
