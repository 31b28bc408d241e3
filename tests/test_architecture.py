"""The parts of the package and the one direction their imports run in (ARCHITECTURE.md).

Every import of an ``e2lm_bench`` module, at the top of a file or inside a function, is checked: a part may
import its own modules and the parts below it, never a part above it or beside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Highest first. Parts on one line are siblings: neither imports the other.
LAYERS = (
    ("cli",),
    ("demo", "early_science", "submission"),
    ("report", "scores", "training"),
    ("evaluation",),
    ("lm_eval_tasks",),
    ("taskdata",),
    ("ground",),
)
GROUND = {"__init__", "errors", "atomic", "redaction", "task_hooks", "devices", "launch"}
# Folders at the top of the repository that install under the one import name (pyproject.toml's package-dir).
TOP_FOLDERS = {"training": "training", "submission": "submission", "lm_eval_tasks": "lm_eval_tasks"}
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
# Modules of a part that their name does not give: ``python -m e2lm_bench`` runs the command, so it stands with cli.
PART_OF = {"__main__": "cli"}


def part_of_module(dotted: str) -> str:
    """The part an ``e2lm_bench.*`` module name belongs to."""
    names = dotted.split(".")[1:]
    if not names:
        return "ground"
    head = names[0]
    if head in RANK:
        return head
    if head in PART_OF:
        return PART_OF[head]
    if head in GROUND:
        return "ground"
    raise AssertionError(f"{dotted}: in no part of ARCHITECTURE.md (add it to a part, or to the ground modules)")


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO)
    top = relative.parts[0]
    parts = list(relative.with_suffix("").parts)
    if top in TOP_FOLDERS:
        parts = ["e2lm_bench", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, importer: str) -> list[tuple[int, str]]:
    """(line, module) for every import of an ``e2lm_bench`` module in ``source``; ``from e2lm_bench import x``
    counts as importing ``e2lm_bench.x``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("e2lm_bench")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("e2lm_bench"):
            if node.module == "e2lm_bench":
                found += [(node.lineno, f"e2lm_bench.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{importer}:{node.lineno}: relative import; name the module in full")
    return found


def violations(sources: dict[Path, str]) -> list[str]:
    """Every import in ``sources`` (file -> its text) of a part above or beside the file's own part."""
    problems = []
    for path, source in sources.items():
        mine = part_of_module(module_name(path))
        for line, imported in imported_modules(source, str(path.relative_to(REPO))):
            theirs = part_of_module(imported)
            if theirs != mine and RANK[theirs] <= RANK[mine]:
                where = "above" if RANK[theirs] < RANK[mine] else "beside"
                problems.append(f"{path.relative_to(REPO)}:{line}: {mine} imports {imported} ({theirs}, {where} it)")
    return problems


def package_sources() -> dict[Path, str]:
    roots = [REPO / "e2lm_bench", *(REPO / folder for folder in TOP_FOLDERS)]
    files = sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return {path: path.read_text(encoding="utf-8") for path in files}


def test_imports_run_one_way():
    sources = package_sources()
    assert len(sources) > 60  # the whole package was read, not an empty glob
    assert violations(sources) == []


def test_evaluation_scores_report_and_taskdata_stand_without_training_and_submission():
    lower = {path: source for path, source in package_sources().items()
             if part_of_module(module_name(path)) in ("evaluation", "scores", "report", "taskdata")}
    assert len(lower) > 20
    for path, source in lower.items():
        for line, imported in imported_modules(source, str(path)):
            assert part_of_module(imported) not in ("training", "submission"), f"{path}:{line} imports {imported}"


@pytest.mark.parametrize("importer, source, problem", [
    ("e2lm_bench/evaluation/x.py", "def f():\n    from e2lm_bench.training.rl import train_rl\n",
     "evaluation imports e2lm_bench.training.rl (training, above it)"),
    ("e2lm_bench/scores/x.py", "from e2lm_bench import report\n", "scores imports e2lm_bench.report (report, beside it)"),
    ("training/x.py", "import e2lm_bench.demo.pipeline\n", "training imports e2lm_bench.demo.pipeline (demo, above it)"),
])
def test_the_check_sees_an_import_against_the_direction(importer, source, problem):
    assert [message.split(": ", 1)[1] for message in violations({REPO / importer: source})] == [problem]


def test_a_module_outside_every_part_is_named():
    with pytest.raises(AssertionError, match="e2lm_bench.helpers: in no part"):
        violations({REPO / "e2lm_bench/helpers.py": ""})
