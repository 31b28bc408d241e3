"""The words of the demo grammar: nouns and verbs with their forms, and the word classes its rules draw from.

The demo must show a tiny model learning within minutes, so the vocabulary is small (about 300 words)
and every word carries what the rules need to use it correctly: a noun its kind and gender, a verb the
kinds of object it takes and, when irregular, the "-ed" past a child would say instead.
"""

from __future__ import annotations

from dataclasses import dataclass


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
