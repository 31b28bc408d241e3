"""Teacher answers: the child-like answers the RL recipe's rewards compare a reply against.

Padovani et al. 2025 (arXiv 2510.20358; github.com/fpadovani/communicative_baby_ppo) had a base LM answer each ``*MOT:`` prompt
as a child would, ten times, and scored every answer under that same model given the mother's words.
``e2lm-bench data teacher-answers`` rebuilds the answers here; ``e2lm-bench data mom-scores`` adds the
scores (``training.mother_scores``), with the shared resumable output of this module.

Both commands append one complete JSON line per prompt and flush after every batch, so a killed run
resumes: a rerun skips the prompts already in the output, and a torn last line (no line end) is cut off
and redone. Every input row is read and checked before the output is touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from e2lm_bench.errors import UserError
from e2lm_bench.taskdata.readers import DataError, decoded_lines, iter_json_objects, read_jsonl
from e2lm_bench.training.dialogue_text import MOT_TAG

SYSTEM_TEXT = (
    "You are a young child having a conversation with your mother. When your mother says something, you "
    "should answer as a typical and natural-sounding child. Do NOT repeat her words. Instead, give a new, "
    "relevant answer that shows understanding. Keep it short and child-like."
)
STOPS = ("\n", "Mother:", "Child:")  # the seed's vLLM stop strings
SENTENCE_END = re.compile(r"[.!?]")
# The seed's single ground truth (rank_sentences.py) is the answer at position 1, the second; kept so that
# BLEU/semsim references match the published ones for the same sampled answers.
TEACHER_RESPONSE_INDEX = 1
BACKENDS = ("transformers", "vllm")


class TeacherError(UserError):
    """A teacher-answers or mom-scores request that cannot run as given."""


@dataclass(frozen=True)
class TeacherConfig:
    """Sampling settings of the seed's ``answers_generation_vllm_fast.py``; the CLI reads its defaults here."""

    n: int = 10
    temperature: float = 0.8
    top_p: float = 0.8
    max_new_tokens: int = 20
    backend: str = "transformers"
    batch_size: int = 16
    seed: int = 0
    device: str | None = None
    dtype: str = "auto"


# -- text rules -------------------------------------------------------------------------------------


def child_persona_prompt(prompt: str) -> str:
    """The child-persona text the teacher continues after a mother prompt, exactly as the seed built it.

    Unlike :func:`mother_utterance` (stripped, for scoring), the mother's words keep the space that
    follows ``*MOT:``, so the teacher reads ``Mother says: where is it ?``; a prompt without the tag gets
    that one space, so tagged and untagged prompts give the same text.
    """
    head, tag, rest = prompt.partition(MOT_TAG)
    words = rest if tag and not head.strip() else " " + prompt.strip()
    return f"{SYSTEM_TEXT}\nMother says:{words}\n Child answers:"


def clean_answer(generated: str) -> str:
    """One child utterance from a raw generation, stripped.

    Cut at the seed's stop strings (so the first line, before any ``Mother:``/``Child:``), then keep up to
    and including the first ``.``, ``!`` or ``?``: the seed keeps the line "up to" the mark, and we keep
    the mark so an answer reads as a whole CHILDES utterance (``no I want milk .``). No mark: the whole
    line. A generation that starts with a stop string gives "" (the seed kept such empty answers too).
    """
    for stop in STOPS:
        generated = generated.split(stop, 1)[0]
    end = SENTENCE_END.search(generated)
    return (generated[: end.end()] if end else generated).strip()


# -- inputs -----------------------------------------------------------------------------------------


def read_prompts(path: str | Path) -> tuple[list[str], int]:
    """(prompts in file order, lines skipped) from a ``*MOT:`` text file or a ``.jsonl`` file with ``prompt``.

    A text file may be a whole transcript: lines that are not ``*MOT:`` turns are skipped and counted, so
    the seed's filtering happens here; a file with no ``*MOT:`` line at all is an error.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        prompts, skipped = [row["prompt"] for row in read_jsonl(path, ("prompt",))], 0
    else:
        lines = [line.strip() for line in decoded_lines(path)]
        prompts = [line for line in lines if line.startswith(MOT_TAG)]
        skipped = sum(1 for line in lines if line and not line.startswith(MOT_TAG))
        if not prompts:
            raise DataError(f"{path}: no line starts with {MOT_TAG} (expected one mother prompt a line)")
    return prompts, skipped


# -- resumable output -------------------------------------------------------------------------------


def done_prompts(path: Path, check: Callable[[str, dict], None]) -> set[str]:
    """Prompts already in the output; a torn last line (a run killed mid-write) is cut off to be redone."""
    if not path.exists():
        return set()
    text = path.read_bytes()
    end = text.rfind(b"\n") + 1
    if end < len(text):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    done = set()
    for where, row in iter_json_objects(path):
        if not isinstance(row.get("prompt"), str):
            raise DataError(f"{where}: field 'prompt' missing (is this an output of this command?)")
        check(where, row)
        done.add(row["prompt"])
    return done


def append_rows(handle, rows: list[dict]) -> None:
    handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    handle.flush()


# -- teacher-answers --------------------------------------------------------------------------------


def write_teacher_answers(prompts_path: str | Path, teacher: str, output: str | Path,
                          config: TeacherConfig = TeacherConfig()) -> dict:
    """Sample ``config.n`` cleaned answers per prompt into ``output`` (resumable); returns a summary.

    Prompt i lies in batch ``i // batch_size`` of the full prompt list, sampled after seeding with the
    seed plus the batch's first index, so a resumed run repeats an uninterrupted one for every batch it
    redoes whole.
    """
    if config.backend not in BACKENDS:
        raise TeacherError(f"--backend {config.backend!r}: expected one of {', '.join(BACKENDS)}")
    if config.n < 1 or config.batch_size < 1:
        raise TeacherError(f"--n {config.n}, --batch-size {config.batch_size}: both must be at least 1")
    listed, skipped = read_prompts(prompts_path)
    prompts = list(dict.fromkeys(listed))  # a prompt is answered once: the output is keyed by prompt
    output = Path(output)

    def check(where: str, row: dict) -> None:
        answers = row.get("teacher_responses")
        if not isinstance(answers, list) or len(answers) != config.n:
            raise DataError(f"{where}: field 'teacher_responses' must hold {config.n} answers (--n), got {answers!r}; "
                            "use another --output for other settings")

    done = done_prompts(output, check)
    todo = [prompt for prompt in prompts if prompt not in done]
    summary = {"output": str(output), "prompts": len(prompts), "already_done": len(prompts) - len(todo),
               "written": 0, "skipped_lines": skipped, "duplicate_prompts": len(listed) - len(prompts)}
    if not todo:
        return summary
    generate = _vllm_generator(teacher, config) if config.backend == "vllm" else _transformers_generator(teacher, config)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a", encoding="utf-8") as handle, tqdm(total=len(todo), desc="teacher answers", unit="prompt") as bar:
        for start in range(0, len(prompts), config.batch_size):
            batch = [p for p in prompts[start : start + config.batch_size] if p not in done]
            if not batch:
                continue
            raw = generate([child_persona_prompt(p) for p in batch], config.seed + start)
            rows = []
            for prompt, generations in zip(batch, raw):
                answers = [clean_answer(g) for g in generations]
                rows.append({"prompt": prompt, "teacher_responses": answers,
                             "teacher_response": answers[min(TEACHER_RESPONSE_INDEX, len(answers) - 1)]})
            append_rows(handle, rows)
            summary["written"] += len(rows)
            bar.update(len(rows))
    return summary


def _transformers_generator(teacher: str, config: TeacherConfig) -> Callable[[list[str], int], list[list[str]]]:
    """Batched sampling with transformers, top-k off (vLLM's default; transformers would otherwise apply 50);
    the RNG is seeded with the batch seed before each batch."""
    import torch

    from e2lm_bench.training.generation import Generator

    generator = Generator.from_pretrained(teacher, device=config.device, dtype=config.dtype, batch_size=config.batch_size)
    settings = dict(do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=0,
                    num_return_sequences=config.n, max_new_tokens=config.max_new_tokens)

    def generate(texts: list[str], seed: int) -> list[list[str]]:
        torch.manual_seed(seed)
        return generator.texts(texts, **settings)

    return generate


def _vllm_generator(teacher: str, config: TeacherConfig) -> Callable[[list[str], int], list[list[str]]]:
    """The seed's engine (max_model_len 512, the stop strings, special tokens skipped); each prompt is seeded
    with the batch seed plus its place in the batch, so its answers do not depend on the other prompts.
    Prompts go as token ids with one BOS (:func:`vllm_token_prompts`), the ids the transformers backend runs."""
    from transformers import AutoTokenizer

    from e2lm_bench.training.generation import vllm_engine, vllm_token_prompts

    llm = vllm_engine(teacher, config.seed, dtype=config.dtype, max_model_len=512)
    from vllm import SamplingParams  # after the engine, which tells a missing vLLM in one line

    tokenizer = AutoTokenizer.from_pretrained(teacher)

    def generate(texts: list[str], seed: int) -> list[list[str]]:
        params = [
            SamplingParams(n=config.n, temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_new_tokens,
                           stop=list(STOPS), skip_special_tokens=True, seed=seed + i)
            for i in range(len(texts))
        ]
        results = llm.generate(vllm_token_prompts(tokenizer, texts), params, use_tqdm=False)
        return [[c.text for c in result.outputs] for result in results]

    return generate
