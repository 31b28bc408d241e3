"""Print a pip constraints file that pins each direct dependency to the floor pyproject.toml allows.

    python .ci/lowest_constraints.py [PYPROJECT] > lowest.txt
    pip install -c lowest.txt -e ".[test]"
    pip freeze | python .ci/lowest_constraints.py --freeze [PYPROJECT]   # the direct dependencies' lines

Direct dependencies are `[project] dependencies` and the `test` extra. Each must have a floor
(`>=X`, or an exact `==X`), pinned here as `name==X` (extras dropped: `lm-eval[hf]>=0.4.13` pins
`lm-eval`); one without a floor is an error, so every floor is one CI has tested. Transitive
dependencies are left to pip.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

EXTRAS = ("test",)
REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(?P<specs>[^;]*?)\s*(;\s*(?P<marker>.*?))?\s*$")
FLOOR = re.compile(r"^(>=|==)\s*(?P<version>[0-9][A-Za-z0-9.+!_-]*)$")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_dependencies(pyproject: dict) -> list[str]:
    project = pyproject.get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in EXTRAS:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    return requirements


def pin(requirement: str) -> str:
    """`name==floor` (with the requirement's environment marker, if any); ValueError without a floor."""
    match = REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    name = normalized(match["name"])
    floors = [FLOOR.match(spec.strip()) for spec in match["specs"].split(",") if spec.strip()]
    floors = [m["version"] for m in floors if m]
    if len(floors) != 1:
        raise ValueError(f"{requirement!r}: a direct dependency needs exactly one floor (>=X or ==X)")
    marker = f"; {match['marker']}" if match["marker"] else ""
    return f"{name}=={floors[0]}{marker}"


def freeze_lines(requirements: list[str], freeze: list[str]) -> tuple[list[str], list[str]]:
    """The `pip freeze` lines of the direct dependencies, and the names of those not installed."""
    names = {normalized(REQUIREMENT.match(r)["name"]) for r in requirements}
    lines = [line.strip() for line in freeze if normalized(re.split(r"==| @ ", line.strip())[0]) in names]
    found = {normalized(re.split(r"==| @ ", line)[0]) for line in lines}
    return lines, sorted(names - found)


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if a != "--freeze"]
    path = Path(args[0]) if args else Path(__file__).resolve().parents[1] / "pyproject.toml"
    with path.open("rb") as f:
        requirements = direct_dependencies(tomllib.load(f))
    if "--freeze" in argv:
        lines, missing = freeze_lines(requirements, sys.stdin.readlines())
        print("\n".join(lines))
        if missing:
            print(f"direct dependencies not installed: {', '.join(missing)}", file=sys.stderr)
        return 1 if missing else 0
    pins, errors = [], []
    for requirement in requirements:
        try:
            pins.append(pin(requirement))
        except ValueError as error:
            errors.append(str(error))
    if errors:
        print("\n".join(f"{path}: {error}" for error in errors), file=sys.stderr)
        return 1
    print(f"# lowest allowed versions of the direct dependencies in {path.name} (.ci/lowest_constraints.py)")
    print("\n".join(pins))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
