"""A small probabilistic grammar of child-directed speech, and evaluation sets that test what it teaches.

The demo must show a tiny model learning within minutes, so everything here is built for learnability:
about 300 words, utterances of 2 to 10 words, and every contrast an evaluation set tests is one the
corpus shows thousands of times in its grammatical form and never in its ungrammatical one.

Each evaluation sentence is an output of the same rules as the corpus, drawn from the outputs that
:func:`held_out` reserves, so a model is scored on combinations it has not seen verbatim.

Caregiver-child exchanges are written as one line, ``*MOT: <question> *CHI: <answer>``, exactly the
string the dialogue task scores (prompt, a space, then the answer), so the format is learned as it is
evaluated and an exchange is never cut between two training blocks.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from e2lm_bench.data import zorro_task_name

# --- Lexicon ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    sg: str
    pl: str
    kind: str  # person, animal, food, toy or place; a verb names the kinds it takes as object
    gender: str = ""  # "m" or "f" for people: he/him/himself or she/her/herself


@dataclass(frozen=True)
class Verb:
    base: str
    third: str
    past: str
    objects: tuple[str, ...] = ()  # noun kinds it takes as object; empty for an intransitive verb
    overregularized: str = ""  # a child's "-ed" past of an irregular verb: the irregular-verb foil
    ing: str = ""  # intransitive verbs only: "the dog is sleeping", "what is the dog doing ?"


PEOPLE = (
    Noun("boy", "boys", "person", "m"), Noun("girl", "girls", "person", "f"),
    Noun("man", "men", "person", "m"), Noun("lady", "ladies", "person", "f"),
    Noun("brother", "brothers", "person", "m"), Noun("sister", "sisters", "person", "f"),
)
NAMES = {"mommy": "f", "daddy": "m", "grandma": "f", "grandpa": "m"}
ANIMALS = tuple(Noun(sg, pl, "animal") for sg, pl in (
    ("dog", "dogs"), ("cat", "cats"), ("duck", "ducks"), ("bird", "birds"), ("cow", "cows"), ("pig", "pigs"),
    ("horse", "horses"), ("frog", "frogs"), ("bear", "bears"), ("bunny", "bunnies"), ("mouse", "mice"),
    ("monkey", "monkeys"),
))
FOODS = tuple(Noun(sg, pl, "food") for sg, pl in (
    ("cookie", "cookies"), ("apple", "apples"), ("banana", "bananas"), ("carrot", "carrots"), ("egg", "eggs"),
    ("grape", "grapes"), ("cracker", "crackers"), ("sandwich", "sandwiches"),
))
TOYS = tuple(Noun(sg, pl, "toy") for sg, pl in (
    ("ball", "balls"), ("block", "blocks"), ("car", "cars"), ("truck", "trucks"), ("book", "books"),
    ("doll", "dolls"), ("hat", "hats"), ("shoe", "shoes"), ("sock", "socks"), ("cup", "cups"),
    ("spoon", "spoons"), ("boat", "boats"), ("balloon", "balloons"),
))
PLACES = tuple(Noun(sg, pl, "place") for sg, pl in (
    ("table", "tables"), ("bed", "beds"), ("chair", "chairs"), ("box", "boxes"), ("basket", "baskets"),
    ("couch", "couches"), ("tree", "trees"), ("door", "doors"),
))
# Which prepositions a place takes when something is put there or is there.
PLACE_PREPOSITIONS = {
    "table": ("on", "under"), "bed": ("on", "under"), "chair": ("on", "under"), "box": ("in",),
    "basket": ("in",), "couch": ("on", "under"), "tree": ("under",), "door": ("near",),
}
DRINKS = ("milk", "juice", "water")  # mass nouns: objects of "drink" only, so they never carry number
DESTINATIONS = ("park", "zoo", "store", "beach")
SOUNDS = {"dog": "woof", "cat": "meow", "duck": "quack", "bird": "tweet", "cow": "moo", "pig": "oink",
          "horse": "neigh", "frog": "ribbit", "bear": "grr", "mouse": "squeak"}

ANIMATE = PEOPLE + ANIMALS
THINGS = FOODS + TOYS
NOUNS = ANIMATE + THINGS + PLACES
KINDS = {kind: tuple(n for n in NOUNS if n.kind == kind) for kind in ("person", "animal", "food", "toy", "place")}

COLORS = ("red", "blue", "green", "yellow")
ADJECTIVES = {
    "animate": ("happy", "sad", "hungry", "sleepy", "funny"),
    "thing": COLORS + ("soft", "new"),
    "any": ("big", "little", "wet", "dirty"),
}

CONCRETE = ("person", "animal", "food", "toy")
TRANSITIVE = (
    Verb("eat", "eats", "ate", ("food",), "eated"),
    Verb("see", "sees", "saw", CONCRETE),
    Verb("find", "finds", "found", ("animal", "food", "toy"), "finded"),
    Verb("take", "takes", "took", ("food", "toy"), "taked"),
    Verb("throw", "throws", "threw", ("toy",), "throwed"),
    Verb("catch", "catches", "caught", ("toy",), "catched"),
    Verb("hold", "holds", "held", ("animal", "food", "toy"), "holded"),
    Verb("bring", "brings", "brought", ("food", "toy"), "bringed"),
    Verb("make", "makes", "made", ("food",), "maked"),
    Verb("break", "breaks", "broke", ("toy",), "breaked"),
    Verb("like", "likes", "liked", CONCRETE),
    Verb("want", "wants", "wanted", ("food", "toy")),
    Verb("kick", "kicks", "kicked", ("toy",)),
    Verb("push", "pushes", "pushed", ("toy",)),
    Verb("hug", "hugs", "hugged", ("person", "animal")),
)
DRINK = Verb("drink", "drinks", "drank", ("drink",), "drinked")
# Past verbs taking a person as object: a pronoun ("mommy saw him") or a reflexive ("he hurt himself").
PERSON_OBJECT = ("saw", "hugged", "hurt", "washed", "helped", "dried")
# Past verbs that take an object and then a place: "put it on the bed", never "put on the bed".
PLACING = ("put", "took", "brought")
# Intransitive verbs with what may follow them; "" is nothing.
INTRANSITIVE = {
    Verb("sleep", "sleeps", "slept", overregularized="sleeped", ing="sleeping"): ("", "on"),
    Verb("cry", "cries", "cried", ing="crying"): ("", "again"),
    Verb("laugh", "laughs", "laughed", ing="laughing"): ("", "again"),
    Verb("smile", "smiles", "smiled", ing="smiling"): ("",),
    Verb("fall", "falls", "fell", overregularized="falled", ing="falling"): ("down", "off"),
    Verb("run", "runs", "ran", overregularized="runned", ing="running"): ("away", "to", "home"),
    Verb("jump", "jumps", "jumped", ing="jumping"): ("", "on"),
    Verb("sit", "sits", "sat", overregularized="sitted", ing="sitting"): ("down", "on"),
    Verb("swim", "swims", "swam", overregularized="swimmed", ing="swimming"): ("", "away"),
    Verb("go", "goes", "went", overregularized="goed", ing="going"): ("to", "home", "outside"),
    Verb("come", "comes", "came", overregularized="comed", ing="coming"): ("home", "back"),
}
# What "what did X <verb> ?" may ask about: verbs that end a question, never one that needs a place.
WH_OBJECT_VERBS = tuple(v for v in TRANSITIVE if v.base in ("eat", "see", "find", "want", "like", "make", "break"))

SUBJECT_PRONOUNS = {"he": "him", "she": "her", "they": "them", "we": "us"}
REFLEXIVES = {"m": "himself", "f": "herself"}
FILLERS = ("look !", "uh oh !", "good job !", "all done .", "bye bye .", "thank you .", "oh no !", "here you go .")

NUMBER_TWIN = {n.sg: n.pl for n in NOUNS} | {n.pl: n.sg for n in NOUNS}
AUX_TWIN = {"is": "are", "are": "is", "does": "do", "do": "does"}
VOWELS = "aeiou"


FUNCTION_WORDS = frozenset("""a an the this that these those some my your i you it me itself themselves is
    are am does do did not yes no to on in under near off down away home outside back again look at can
    where what who color doing say""".split())


def content_words() -> frozenset[str]:
    """Nouns, verb forms, adjectives and animal sounds: the words lexical decision asks about."""
    words = {n for noun in NOUNS for n in (noun.sg, noun.pl)} | set(NAMES) | set(DRINKS) | set(DESTINATIONS)
    words |= set(SOUNDS.values()) | {a for group in ADJECTIVES.values() for a in group}
    words |= {form for v in TRANSITIVE + (DRINK,) for form in (v.base, v.third, v.past)}
    words |= {form for v in INTRANSITIVE for form in (v.base, v.third, v.past, v.ing)}
    return frozenset(words | set(PERSON_OBJECT) | set(PLACING))


def lexicon() -> frozenset[str]:
    """Every word the grammar can say (punctuation and the speaker tags are not words)."""
    pronouns = set(SUBJECT_PRONOUNS) | set(SUBJECT_PRONOUNS.values()) | set(REFLEXIVES.values())
    filler_words = {w for line in FILLERS for w in line.split()[:-1]}
    return content_words() | FUNCTION_WORDS | pronouns | filler_words


# --- Sentences -------------------------------------------------------------------------------------


@dataclass
class Sentence:
    """Words, and where the evaluation contrasts sit: a role name -> (start, end) word span."""

    words: list[str] = field(default_factory=list)
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, *words: str, mark: str = "") -> Sentence:
        if mark:
            self.marks[mark] = (len(self.words), len(self.words) + len(words))
        self.words.extend(words)
        return self

    def add_phrase(self, phrase: Phrase, mark: str = "") -> Sentence:
        start = len(self.words)
        for role, (a, b) in phrase.marks.items():
            self.marks[f"{mark}_{role}" if mark else role] = (start + a, start + b)
        return self.add(*phrase.words, mark=mark)

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class Phrase(Sentence):
    """A noun phrase with the features that agreement and pronouns need."""

    plural: bool = False
    gender: str = ""
    animate: bool = False

    @property
    def pronoun(self) -> str:
        return "they" if self.plural else {"m": "he", "f": "she"}.get(self.gender, "it")


def _noun_phrase(rng: random.Random, nouns: tuple[Noun, ...], dets: tuple[str, ...] = ("the",),
                 adjective: float = 0.2, plural: bool | None = None) -> Phrase:
    """Determiner, maybe an adjective, noun; the determiner agrees in number ("this dog", "these dogs", "a dog").

    The "noun" mark is set only when the determiner shows number, so only then can the noun's number be
    wrong.
    """
    noun = rng.choice(nouns)
    plural = rng.random() < 0.5 if plural is None else plural
    det = rng.choice([d for d in dets if d not in (("this", "that", "a") if plural else ("these", "those", "some"))])
    phrase = Phrase(plural=plural, gender=noun.gender, animate=noun.kind in ("person", "animal"))
    head = noun.pl if plural else noun.sg
    adj = _adjective(rng, phrase) if rng.random() < adjective else ""
    if det == "a" and (adj or head)[0] in VOWELS:
        det = "an"
    phrase.add(det, mark="det" if det in ("this", "that", "these", "those", "a", "an") else "")
    if adj:
        phrase.add(adj, mark="adj")
    return phrase.add(head, mark="noun" if "det" in phrase.marks else "")


def _subject(rng: random.Random, nouns: tuple[Noun, ...] = ANIMATE, names: float = 0.2, **kwargs) -> Phrase:
    """A noun phrase or, sometimes, a name such as "mommy"."""
    if rng.random() < names:
        name = rng.choice(sorted(NAMES))
        return Phrase(gender=NAMES[name], animate=True).add(name)
    return _noun_phrase(rng, nouns, **kwargs)


def _object(rng: random.Random, kinds: tuple[str, ...], adjective: float = 0.2) -> Phrase:
    """An object of one of ``kinds``; drinks are mass nouns, so they take no number-marking determiner."""
    if kinds == ("drink",):
        return Phrase().add(rng.choice(("the", "some", "my", "your")), rng.choice(DRINKS))
    nouns = tuple(n for kind in kinds for n in KINDS[kind])
    return _noun_phrase(rng, nouns, ("the", "a", "this", "that", "these", "those", "some", "my", "your"), adjective)


def _be(phrase: Phrase) -> str:
    return "are" if phrase.plural else "is"


def _present(verb: Verb, phrase: Phrase) -> str:
    return verb.base if phrase.plural else verb.third


def _adjective(rng: random.Random, phrase: Phrase) -> str:
    return rng.choice(ADJECTIVES["any"] + ADJECTIVES["animate" if phrase.animate else "thing"])


def _place(rng: random.Random, prepositions: tuple[str, ...] = ("on", "in", "under", "near")) -> list[str]:
    place = rng.choice([p for p in PLACES if set(PLACE_PREPOSITIONS[p.sg]) & set(prepositions)])
    prep = rng.choice([p for p in PLACE_PREPOSITIONS[place.sg] if p in prepositions])
    return [prep, "the", place.pl if rng.random() < 0.3 else place.sg]


def _tail(rng: random.Random, verb: Verb) -> list[str]:
    """What follows an intransitive verb: nothing, a particle or a place, never an object."""
    kind = rng.choice(INTRANSITIVE[verb])
    if kind == "on":
        return _place(rng, ("on",))
    if kind == "off":
        return ["off", "the", rng.choice(("table", "bed", "chair", "couch"))]
    if kind == "to":
        return ["to", "the", rng.choice(DESTINATIONS)]
    return [kind] if kind else []


# --- Rules: each returns one caregiver utterance --------------------------------------------------


def copula(rng: random.Random) -> Sentence:
    """"the dog is happy ." / "these balls are red ." """
    subject = _subject(rng, ANIMATE + THINGS, dets=("the", "this", "that", "these", "those", "my", "your"))
    return Sentence().add_phrase(subject, "subject").add(_be(subject), mark="verb").add(
        _adjective(rng, subject), ".")


def transitive(rng: random.Random) -> Sentence:
    """"the boy ate the cookie ." / "the cats like the ball ."; an animate subject, an object the verb fits."""
    verb = rng.choice(TRANSITIVE + (DRINK,))
    subject = _subject(rng, dets=("the", "my", "your"))
    past = rng.random() < 0.6
    s = Sentence().add_phrase(subject, "subject")
    s.add(verb.past if past else _present(verb, subject), mark="verb")
    return s.add_phrase(_object(rng, verb.objects), "object").add(".")


def intransitive(rng: random.Random) -> Sentence:
    """"the dog slept on the bed ." / "the ducks swim away ." / "the boy is crying ." """
    verb = rng.choice(sorted(INTRANSITIVE, key=lambda v: v.base))
    subject = _subject(rng, dets=("the", "my", "your"))
    s = Sentence().add_phrase(subject, "subject")
    form = rng.random()
    if form < 0.5:
        s.add(verb.past, mark="verb")
    elif form < 0.75:
        s.add(_present(verb, subject), mark="verb")
    else:
        s.add(_be(subject), verb.ing)
    return s.add(*_tail(rng, verb), ".")


FRAMES = (("look", "at"), ("i", "like"), ("i", "see"), ("do", "you", "want"), ("can", "you", "see"),
          ("you", "found"), ("where", "is"), ("where", "are"))


def determiner_frame(rng: random.Random) -> Sentence:
    """"look at this dog ." / "do you want these big cookies ?"; the determiner agrees with the noun."""
    frame = rng.choice(FRAMES)
    if frame[0] == "where":
        phrase = _noun_phrase(rng, ANIMATE + THINGS, ("this", "that", "these", "those", "my", "your"), 0.4,
                              plural=frame[1] == "are")
    else:
        phrase = _noun_phrase(rng, ANIMATE + THINGS, ("this", "that", "these", "those", "a", "the", "some"), 0.4)
    end = "?" if frame[0] in ("do", "can", "where") else "."
    return Sentence().add(*frame).add_phrase(phrase).add(end)


def prepositional_subject(rng: random.Random) -> Sentence:
    """"the dog near the trees is happy ."; the verb agrees with the first noun, not the nearer one."""
    subject = _noun_phrase(rng, ANIMATE + THINGS, adjective=0)
    s = Sentence().add_phrase(subject, "subject").add(*_place(rng))
    return s.add(_be(subject), mark="verb").add(_adjective(rng, subject), ".")


def relative_subject(rng: random.Random) -> Sentence:
    """"the cookies that mommy made are big ."; a relative clause between subject and verb."""
    verb = rng.choice(TRANSITIVE)
    nouns = tuple(n for kind in verb.objects for n in KINDS[kind])
    subject = _noun_phrase(rng, nouns, adjective=0)
    inner = rng.choice(("i", "you", "we", "he", "she", "they") + tuple(sorted(NAMES)))
    s = Sentence().add_phrase(subject, "subject").add("that", inner, verb.past)
    return s.add(_be(subject), mark="verb").add(_adjective(rng, subject), ".")


def yes_no_question(rng: random.Random) -> Sentence:
    """"is the dog hungry ?" / "does the boy like the ball ?" / "are the ducks swimming ?" """
    subject = _noun_phrase(rng, ANIMATE, adjective=0.1)
    kind = rng.random()
    s = Sentence()
    if kind < 0.35:
        return s.add(_be(subject), mark="verb").add_phrase(subject, "subject").add(_adjective(rng, subject), "?")
    if kind < 0.7:
        verb = rng.choice(TRANSITIVE)
        s.add("do" if subject.plural else "does", mark="verb").add_phrase(subject, "subject")
        return s.add(verb.base).add_phrase(_object(rng, verb.objects)).add("?")
    if kind < 0.85:
        verb = rng.choice(sorted(INTRANSITIVE, key=lambda v: v.base))
        return s.add(_be(subject), mark="verb").add_phrase(subject, "subject").add(verb.ing, "?")
    verb = rng.choice(TRANSITIVE + (DRINK,))
    return s.add("did").add_phrase(subject, "subject").add(verb.base).add_phrase(_object(rng, verb.objects)).add("?")


def wh_question(rng: random.Random) -> Sentence:
    """"where is the ball ?" / "what color are the cups ?" / "what did the dog eat ?" """
    kind = rng.random()
    s = Sentence()
    if kind < 0.3:
        subject = _noun_phrase(rng, ANIMATE + THINGS, adjective=0.1)
        return s.add("where").add(_be(subject), mark="verb").add_phrase(subject, "subject").add("?")
    if kind < 0.5:
        subject = _noun_phrase(rng, THINGS, adjective=0)
        return s.add("what", "color").add(_be(subject), mark="verb").add_phrase(subject, "subject").add("?")
    subject = _subject(rng, adjective=0)
    if kind < 0.7:
        return s.add("what", "did").add_phrase(subject, "subject").add(rng.choice(WH_OBJECT_VERBS).base, "?")
    if kind < 0.85:
        return s.add("where", "did").add_phrase(subject, "subject").add("go", "?")
    return s.add("what").add(_be(subject), mark="verb").add_phrase(subject, "subject").add("doing", "?")


def pronoun_subject(rng: random.Random) -> Sentence:
    """"she took the ball ." / "they are hungry ." / "he likes the cat ."; subjects in the subject case."""
    pronoun = rng.choice(("he", "she", "they", "we", "i", "you"))
    subject = Phrase(plural=pronoun in ("they", "we", "you"), animate=True).add(pronoun)
    s = Sentence().add(pronoun, mark="pronoun")
    kind = rng.random()
    if kind < 0.3:
        be = {"i": "am", "you": "are"}.get(pronoun, _be(subject))
        return s.add(be, _adjective(rng, subject), ".")
    verb = rng.choice(TRANSITIVE)
    form = verb.past if kind < 0.7 else (verb.base if pronoun == "i" else _present(verb, subject))
    return s.add(form).add_phrase(_object(rng, verb.objects)).add(".")


def pronoun_object(rng: random.Random) -> Sentence:
    """"mommy hugged him ." / "the dog saw them ."; objects in the object case."""
    subject = _subject(rng, dets=("the", "my", "your"), adjective=0.1)
    s = Sentence().add_phrase(subject, "subject").add(rng.choice(PERSON_OBJECT))
    return s.add(rng.choice(("him", "her", "them", "us", "me")), ".")


def reflexive(rng: random.Random) -> Sentence:
    """"the boy hurt himself ." / "the girls washed themselves ." / "the cat washed itself ." """
    subject = _subject(rng, names=0.25, dets=("the", "my", "your"), adjective=0.25)
    if rng.random() < 0.25:
        pronoun = rng.choice(("he", "she"))
        subject = Phrase(gender="m" if pronoun == "he" else "f", animate=True).add(pronoun)
    reflexive_pronoun = "themselves" if subject.plural else REFLEXIVES.get(subject.gender, "itself")
    s = Sentence().add_phrase(subject, "subject").add(rng.choice(PERSON_OBJECT))
    return s.add(reflexive_pronoun, mark="reflexive").add(*(["again"] if rng.random() < 0.3 else []), ".")


def placing(rng: random.Random) -> Sentence:
    """"daddy put it on the table ." / "the girl took the ball to the park ."; the object is never left out."""
    past = rng.choice(PLACING)
    subject = _subject(rng, dets=("the", "my", "your"), adjective=0.1)
    s = Sentence().add_phrase(subject, "subject").add(past)
    if rng.random() < 0.5:
        s.add(rng.choice(("it", "them")), mark="object")
    else:
        s.add_phrase(_object(rng, ("food", "toy"), adjective=0), "object")
    where = _place(rng, ("on", "in", "under")) if past == "put" else ["to", "the", rng.choice(DESTINATIONS)]
    return s.add(*where, ".")


def filler(rng: random.Random) -> Sentence:
    return Sentence(rng.choice(FILLERS).split())


# --- Exchanges: a caregiver question and a child answer that fits it ----------------------------


def exchange(rng: random.Random) -> tuple[str, Sentence, Sentence]:
    """(question kind, caregiver question, child answer); the answer repeats the question's verb and referent."""
    kind = rng.choice(("is", "does", "what_did", "where_go", "where_is", "doing", "say", "who", "color"))
    q, a = Sentence(), Sentence()
    yes = rng.random() < 0.6
    if kind == "is":
        subject = _subject(rng, adjective=0)
        q.add(_be(subject)).add_phrase(subject).add(_adjective(rng, subject), "?")
        a.add("yes" if yes else "no", subject.pronoun, _be(subject), *([] if yes else ["not"]), ".")
    elif kind == "does":
        subject, verb = _subject(rng, adjective=0), rng.choice(TRANSITIVE)
        aux = "do" if subject.plural else "does"
        q.add(aux).add_phrase(subject).add(verb.base).add_phrase(_object(rng, verb.objects, adjective=0)).add("?")
        a.add("yes" if yes else "no", subject.pronoun, aux, *([] if yes else ["not"]), ".")
    elif kind == "what_did":
        subject, verb = _subject(rng, adjective=0), rng.choice(WH_OBJECT_VERBS + (DRINK,))
        q.add("what", "did").add_phrase(subject).add(verb.base, "?")
        a.add(subject.pronoun, verb.past).add_phrase(_object(rng, verb.objects, adjective=0)).add(".")
    elif kind == "where_go":
        subject = _subject(rng, adjective=0)
        q.add("where", "did").add_phrase(subject).add("go", "?")
        where = rng.choice((["home"], ["outside"], ["to", "the", rng.choice(DESTINATIONS)]))
        a.add(subject.pronoun, "went", *where, ".")
    elif kind == "where_is":
        subject = _noun_phrase(rng, ANIMATE + THINGS, adjective=0)
        q.add("where", _be(subject)).add_phrase(subject).add("?")
        a.add(subject.pronoun, _be(subject), *_place(rng), ".")
    elif kind == "doing":
        subject = _subject(rng, adjective=0)
        verb = rng.choice(sorted(INTRANSITIVE, key=lambda v: v.base))
        q.add("what", _be(subject)).add_phrase(subject).add("doing", "?")
        a.add(subject.pronoun, _be(subject), verb.ing, ".")
    elif kind == "say":
        animal = rng.choice([n for n in ANIMALS if n.sg in SOUNDS])
        plural = rng.random() < 0.5
        q.add("what", "do" if plural else "does", "the", animal.pl if plural else animal.sg, "say", "?")
        a.add(SOUNDS[animal.sg], SOUNDS[animal.sg], ".")
    elif kind == "who":
        verb = rng.choice(WH_OBJECT_VERBS)
        q.add("who", verb.past).add_phrase(_object(rng, verb.objects, adjective=0)).add("?")
        a.add_phrase(_subject(rng, adjective=0)).add("did", ".")
    else:
        subject = _noun_phrase(rng, THINGS, adjective=0)
        q.add("what", "color", _be(subject)).add_phrase(subject).add("?")
        a.add(subject.pronoun, _be(subject), rng.choice(COLORS), ".")
    return kind, q, a


def exchange_line(question: Sentence, answer: Sentence) -> str:
    return f"*MOT: {question.text} *CHI: {answer.text}"


# --- Corpus ----------------------------------------------------------------------------------------

# Rule -> weight: every rule behind an evaluation set is frequent; exchanges are a fifth of the lines.
RULES: dict[Callable[[random.Random], Sentence], int] = {
    copula: 6, transitive: 10, intransitive: 6, determiner_frame: 9, prepositional_subject: 7,
    relative_subject: 7, yes_no_question: 8, wh_question: 6, pronoun_subject: 7, pronoun_object: 3,
    reflexive: 6, placing: 6, filler: 2,
}
EXCHANGE_WEIGHT = 22
HELD_OUT_ONE_IN = 4


def held_out(line: str) -> bool:
    """Whether an utterance is reserved for evaluation: a fixed hash, so it holds for every seed and size.

    Formulas of up to three words ("uh oh !") are never evaluated, and the corpus needs every one.
    """
    return len(line.split()) > 3 and zlib.crc32(line.encode("utf-8")) % HELD_OUT_ONE_IN == 0


def utterance(rng: random.Random) -> str:
    """One corpus line: a caregiver utterance, or a whole exchange."""
    rules = list(RULES) + [None]
    rule = rng.choices(rules, weights=list(RULES.values()) + [EXCHANGE_WEIGHT])[0]
    if rule is None:
        _, question, answer = exchange(rng)
        return exchange_line(question, answer)
    return rule(rng).text


def generate_corpus(n_utterances: int, seed: int = 0) -> list[str]:
    """``n_utterances`` lines (an exchange counts as one), none of them held out for evaluation."""
    rng = random.Random(seed)
    lines = []
    while len(lines) < n_utterances:
        line = utterance(rng)
        if not held_out(line):
            lines.append(line)
    return lines


def write_corpus(out_dir: str | Path, n_train: int, n_dev: int, seed: int = 0) -> Path:
    """BabyLM-style ``demo.train`` and ``demo.dev`` under ``out_dir``, one utterance per line; returns ``out_dir``."""
    out_dir = Path(out_dir)
    lines = generate_corpus(n_train + n_dev, seed)
    _write(out_dir / "demo.train", "".join(line + "\n" for line in lines[:n_train]))
    _write(out_dir / "demo.dev", "".join(line + "\n" for line in lines[n_train:]))
    return out_dir


# --- Evaluation sets -------------------------------------------------------------------------------

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
    """``n`` held-out exchanges with distinct questions; each rejects the answer to another kind of question.

    ``by="words"`` takes a rejected answer with the same word count, so length gives nothing away;
    ``by="chars"`` the one closest in characters.
    """
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
        others = sorted({a for k, _, a in exchanges if k != kind})
        if by == "words":
            pool = [a for a in others if len(a.split()) == len(chosen.split())]
        else:
            gap = min(abs(len(a) - len(chosen)) for a in others)
            pool = [a for a in others if abs(len(a) - len(chosen)) == gap]
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


def lexical_rows(n: int, rng: random.Random) -> list[dict[str, str]]:
    """``n`` content words drawn by ``rng``, each with its pseudo-word."""
    wugs = pseudo_words()
    return [{"lexeme": word, "wug": wugs[word]} for word in rng.sample(sorted(wugs), n)]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _jsonl(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


DIALOGUE_ROWS = 200
LEXICAL_ROWS = 150


def write_eval_sets(data_dir: str | Path, pairs_per_paradigm: int = 200, seed: int = 1) -> list[str]:
    """Write the evaluation sets in the task layout under ``data_dir``; returns the lm-eval task names.

    Only the paradigms in :data:`PARADIGMS` are written, those whose contrast the corpus teaches; the
    group names ("zorro", "dialogue_minpairs") are not returned, since a group loads all of its tasks.
    """
    data_dir = Path(data_dir)
    rng = random.Random(seed)
    for paradigm in PARADIGMS:
        lines = [s for pair in eval_pairs(paradigm, pairs_per_paradigm, rng) for s in pair]
        _write(data_dir / "zorro" / f"{paradigm}.txt", "\n".join(lines))
    for variant, by in (("words", "words"), ("tokens", "chars")):
        path = data_dir / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl"
        _write(path, _jsonl(dialogue_rows(DIALOGUE_ROWS, rng, by)))
    _write(data_dir / "lexical_decision" / "lexical_decision.jsonl", _jsonl(lexical_rows(LEXICAL_ROWS, rng)))
    return [zorro_task_name(p) for p in PARADIGMS] + ["dialogue_minpairs_words", "lexical_decision"]
