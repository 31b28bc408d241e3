"""A small probabilistic grammar of child-directed speech: rules that each make one utterance or exchange.

Utterances are of 2 to 10 words, and every contrast an evaluation set tests is one the rules produce
only in its grammatical form. Each sentence records where its subject, verb, object and other parts
sit, so :mod:`e2lm_bench.demo.eval_sets` can break exactly one of them.

Caregiver-child exchanges are written as one line, ``*MOT: <question> *CHI: <answer>``, exactly the
string the dialogue task scores (prompt, a space, then the answer), so the format is learned as it is
evaluated and an exchange is never cut between two training blocks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from e2lm_bench.demo.vocabulary import (
    ADJECTIVES,
    ANIMALS,
    ANIMATE,
    COLORS,
    DESTINATIONS,
    DRINK,
    DRINKS,
    FILLERS,
    INTRANSITIVE,
    KINDS,
    NAMES,
    PERSON_OBJECT,
    PLACE_PREPOSITIONS,
    PLACES,
    PLACING,
    REFLEXIVES,
    SOUNDS,
    THINGS,
    TRANSITIVE,
    VOWELS,
    WH_OBJECT_VERBS,
    Noun,
    Verb,
)

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


# --- One corpus line ------------------------------------------------------------------------------

# Rule -> weight: every rule behind an evaluation set is frequent; exchanges are a fifth of the lines.
RULES: dict[Callable[[random.Random], Sentence], int] = {
    copula: 6, transitive: 10, intransitive: 6, determiner_frame: 9, prepositional_subject: 7,
    relative_subject: 7, yes_no_question: 8, wh_question: 6, pronoun_subject: 7, pronoun_object: 3,
    reflexive: 6, placing: 6, filler: 2,
}
EXCHANGE_WEIGHT = 22


def utterance(rng: random.Random) -> str:
    """One corpus line: a caregiver utterance, or a whole exchange."""
    rules = list(RULES) + [None]
    rule = rng.choices(rules, weights=list(RULES.values()) + [EXCHANGE_WEIGHT])[0]
    if rule is None:
        _, question, answer = exchange(rng)
        return exchange_line(question, answer)
    return rule(rng).text
