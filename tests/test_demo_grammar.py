"""The demo grammar: reproducible, readable by the loaders, and never teaching the form an evaluation set calls wrong."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from e2lm_bench.demo import eval_sets, vocabulary
from e2lm_bench.demo.corpus import generate_corpus, write_corpus
from e2lm_bench.demo.eval_sets import lexical_rows, pseudo_corpus, pseudo_words, write_eval_sets
from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.taskdata.readers import read_jsonl, read_pair_lines
from e2lm_bench.taskdata.sources import DIALOGUE_FIELDS, LEXICAL_FIELDS, ZORRO_PARADIGMS, zorro_task_name

PAIRS = 200
PUNCTUATION_AND_TAGS = {".", "?", "!", "*MOT:", "*CHI:"}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return generate_corpus(20_000, seed=0)


@pytest.fixture(scope="module")
def corpus_words(corpus) -> set[str]:
    return {w for line in corpus for w in line.split()}


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("demo_eval")
    return root, write_eval_sets(root, pairs_per_paradigm=PAIRS, seed=1)


@pytest.fixture(scope="module")
def pairs(eval_dir) -> dict[str, list[tuple[str, str]]]:
    root, _ = eval_dir
    return {path.stem: [(row["sentence_good"], row["sentence_bad"]) for row in read_pair_lines(path)]
            for path in sorted((root / "zorro").glob("*.txt"))}


def _dialogue(eval_dir, variant: str) -> list[dict[str, str]]:
    return read_jsonl(eval_dir[0] / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl", DIALOGUE_FIELDS)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    def write(name, seed):
        write_corpus(tmp_path / name / "corpus", 300, 30, seed=seed)
        write_eval_sets(tmp_path / name / "data", pairs_per_paradigm=10, seed=seed)
        return _snapshot(tmp_path / name)

    first = write("a", 3)
    assert first == write("b", 3)
    other = write("c", 4)
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first)


def test_corpus_files(tmp_path):
    out = write_corpus(tmp_path, n_train=500, n_dev=50, seed=0)
    assert out == tmp_path
    train = (tmp_path / "demo.train").read_text(encoding="utf-8")
    dev = (tmp_path / "demo.dev").read_text(encoding="utf-8")
    assert train.endswith("\n") and dev.endswith("\n")
    utterances, sizes = generate_corpus(550, seed=0), []
    for line in train.splitlines() + dev.splitlines():  # each line: the next 1 to 3 utterances, in order
        size = next(k for k in (1, 2, 3) if line == " ".join(utterances[sum(sizes):sum(sizes) + k]))
        sizes.append(size)
    assert sum(sizes) == 550 and len(train.splitlines()) < 500 and set(sizes) == {1, 2, 3}


def test_utterances_are_short_lower_case_and_punctuated(corpus):
    caregiver = [line for line in corpus if not line.startswith("*MOT: ")]
    exchanges = [line for line in corpus if line.startswith("*MOT: ")]
    assert 0.1 < len(exchanges) / len(corpus) < 0.4
    for line in caregiver:
        assert 2 <= len(line.split()) <= 10 and line == line.lower() and line[-2:] in (" .", " ?", " !")
    for line in exchanges:
        assert re.fullmatch(r"\*MOT: [a-z ]+ \? \*CHI: [a-z ]+ \.", line), line


def test_corpus_says_exactly_the_lexicon(corpus_words):
    assert corpus_words - PUNCTUATION_AND_TAGS == vocabulary.lexicon()
    assert 150 <= len(vocabulary.lexicon()) <= 320


def test_written_tasks(eval_dir, pairs):
    _, tasks = eval_dir
    assert len(pairs) >= 8 and set(pairs) <= set(ZORRO_PARADIGMS)
    dialogue = ["dialogue_minpairs_words", "dialogue_minpairs_tokens"]  # both variants, as the README says
    assert tasks == [zorro_task_name(p) for p in pairs] + dialogue + ["lexical_decision"]
    assert "zorro" not in tasks and "dialogue_minpairs" not in tasks
    for task in tasks[:-3]:
        assert (TASKS_DIR / "zorro" / f"{task}.yaml").is_file()


def test_zorro_files_are_minimal_pairs(eval_dir, pairs):
    root, _ = eval_dir
    for paradigm, rows in pairs.items():
        assert not (root / "zorro" / f"{paradigm}.txt").read_bytes().endswith(b"\n")
        assert len(rows) == PAIRS and len({good for good, _ in rows}) == PAIRS
        for good, bad in rows:
            g, b = good.split(), bad.split()
            assert good != bad and good == good.lower() and good[-2:] in (" .", " ?")
            if paradigm == "argument_structure-swapped_arguments":
                assert sorted(g) == sorted(b)
            elif paradigm == "argument_structure-dropped_argument":
                assert len(b) == len(g) - 1 and any(g[:i] + g[i + 1:] == b for i in range(len(g)))
            else:
                assert len(g) == len(b) and sum(x != y for x, y in zip(g, b)) == 1, (good, bad)


def test_no_ungrammatical_sentence_in_the_corpus(corpus, pairs):
    lines = set(corpus)
    for paradigm, rows in pairs.items():
        assert not [bad for _, bad in rows if bad in lines], paradigm
        # Evaluation sentences are held out: new combinations, not copies of training lines.
        assert not [good for good, _ in rows if good in lines], paradigm


def test_corpus_never_shows_the_wrong_form_locally(corpus):
    singular = {n.sg for n in vocabulary.NOUNS}
    plural = {n.pl for n in vocabulary.NOUNS}
    adjectives = {a for group in vocabulary.ADJECTIVES.values() for a in group}
    overregularized = set(eval_sets.OVERREGULARIZED.values())
    intransitive_past = set(eval_sets.INTRANSITIVE_PAST)
    for line in corpus:
        words = line.split()
        assert not overregularized & set(words), line
        assert words[0] not in vocabulary.SUBJECT_PRONOUNS.values(), line
        for i, (a, b) in enumerate(zip(words, words[1:])):
            noun = words[i + 2] if b in adjectives else b
            if a in ("this", "that", "a", "an"):
                assert noun not in plural, line
            if a in ("these", "those"):
                assert noun not in singular, line
            assert not (a in vocabulary.PLACING and b in ("on", "in", "under", "to")), line
            assert not (a in intransitive_past and b in ("the", "a", "this", "my", "your", "some")), line
            assert not (a in vocabulary.SUBJECT_PRONOUNS.values() and b in ("is", "are", "saw", "likes", "like")), line


def _key_words(good: str, bad: str) -> set[str]:
    """The words of the good sentence that the bad one changes, drops or moves."""
    g, b = good.split(), bad.split()
    return set(g) - set(b) if len(g) != len(b) else {x for x, y in zip(g, b) if x != y}


def test_grammatical_forms_are_taught(corpus, corpus_words, pairs):
    counts = {}
    for line in corpus:
        for word in line.split():
            counts[word] = counts.get(word, 0) + 1
    for paradigm, rows in pairs.items():
        for good, bad in rows:
            assert set(good.split()) <= corpus_words, (paradigm, good)
            assert all(counts.get(word, 0) >= 20 for word in _key_words(good, bad)), (paradigm, good)


def test_dialogue_files(eval_dir, corpus, corpus_words):
    files = {variant: _dialogue(eval_dir, variant) for variant in ("words", "tokens")}
    lines = set(corpus)
    for rows in files.values():
        assert len(rows) == 200 and len({row["prompt"] for row in rows}) == 200
        for row in rows:
            assert row["prompt"].startswith("*MOT: ") and row["prompt"].endswith(" ?")
            assert row["chosen"].startswith("*CHI: ") and row["rejected"].startswith("*CHI: ")
            assert row["chosen"] != row["rejected"]
            assert f"{row['prompt']} {row['chosen']}" not in lines  # held out, like the Zorro sentences
            assert f"{row['prompt']} {row['rejected']}" not in lines
            assert set((row["prompt"] + " " + row["chosen"]).split()) <= corpus_words
    for row in files["words"]:
        assert len(row["chosen"].split()) == len(row["rejected"].split())
    assert files["words"] != files["tokens"]


def test_lexical_decision(eval_dir, corpus_words):
    rows = read_jsonl(eval_dir[0] / "lexical_decision" / "lexical_decision.jsonl", LEXICAL_FIELDS)
    assert len(rows) == 150
    assert len({row["lexeme"] for row in rows}) == len({row["wug"] for row in rows}) == 150
    lexicon = vocabulary.lexicon()
    for row in rows:
        lexeme, wug = row["lexeme"], row["wug"]
        assert lexeme in corpus_words and lexeme in vocabulary.content_words()
        assert wug not in lexicon and wug not in eval_sets.REAL_NON_LEXICON
        assert len(wug) == len(lexeme) and wug != lexeme
        assert eval_sets._onset(wug)[1] == eval_sets._onset(lexeme)[1]


def test_pseudo_words_are_unheard_unique_and_shaped_like_their_words():
    wugs = pseudo_words()
    words = vocabulary.content_words()
    assert len(wugs) >= 200 and set(wugs) <= words
    assert len(set(wugs.values())) == len(wugs)
    onsets = {eval_sets._onset(w)[0] for w in words}
    for word, wug in wugs.items():
        assert wug not in vocabulary.lexicon() and wug not in eval_sets.REAL_NON_LEXICON
        assert len(wug) == len(word) and wug.isalpha() and wug.islower()
        (onset, rime), (wug_onset, wug_rime) = eval_sets._onset(word), eval_sets._onset(wug)
        assert wug_rime == rime and wug_onset != onset and wug_onset in onsets and len(wug_onset) == len(onset)


def test_pseudo_corpus_swaps_exactly_the_words_that_have_a_pseudo_word_then_the_irregular_pasts(corpus):
    wugs = pseudo_words()
    twins = list(pseudo_corpus(corpus[:500]))
    assert len(twins) == 1000
    for line, twin, foiled in zip(corpus[:500], twins[:500], twins[500:]):
        assert [wugs.get(w, w) for w in line.split()] == twin.split()
        assert [eval_sets.OVERREGULARIZED.get(w, w) for w in line.split()] == foiled.split()
    assert any("eated" in line.split() for line in twins[500:])


def test_lexical_pairs_are_token_matched_by_the_demo_tokenizer(corpus):
    """On a BPE of the corpus alone every heard word is one token and no pseudo-word is, so an untrained
    model would pick the word every time; the demo's BPE also sees the pseudo-word twin of the corpus."""
    from e2lm_bench.demo.pipeline import DemoSettings
    from e2lm_bench.training.tokenizer import train_bpe_tokenizer

    def tokens(tokenizer, word):
        return len(tokenizer(" " + word, add_special_tokens=False)["input_ids"])

    size = DemoSettings().vocab_size
    corpus_only = train_bpe_tokenizer(corpus, vocab_size=size)
    assert all(tokens(corpus_only, word) == 1 < tokens(corpus_only, wug) for word, wug in pseudo_words().items())
    with pytest.raises(ValueError, match="token-matched"):
        lexical_rows(150, random.Random(0), corpus_only)

    demo = train_bpe_tokenizer([*corpus, *pseudo_corpus(corpus)], vocab_size=size)
    assert len(demo) <= size
    assert all(tokens(demo, word) == tokens(demo, wug) == 1 for word, wug in pseudo_words().items())
    rows = lexical_rows(150, random.Random(0), demo)
    assert len({row["lexeme"] for row in rows}) == 150
    for word in vocabulary.lexicon():  # the corpus is split as the corpus-only BPE splits it
        assert tokens(demo, word) == tokens(corpus_only, word), word
    # the irregular-verb foils: a cue on the corpus-only BPE ("eated" costs more than "ate"), none on the demo's
    foils = eval_sets.OVERREGULARIZED
    assert all(tokens(corpus_only, past) == 1 < tokens(corpus_only, foil) for past, foil in foils.items())
    assert all(tokens(demo, past) == tokens(demo, foil) == 1 for past, foil in foils.items())
