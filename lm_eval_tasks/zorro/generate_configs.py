"""Writes one small YAML per Zorro paradigm and the group YAML: ``python lm_eval_tasks/zorro/generate_configs.py``.

The generated files are committed; a test checks they match this script's output.
"""

from __future__ import annotations

from pathlib import Path

from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS, zorro_task_name

HERE = Path(__file__).resolve().parent


def configs() -> dict[str, str]:
    """File name -> YAML text for every generated file."""
    files = {
        f"{zorro_task_name(p)}.yaml": f"include: _template_yaml\ntask: {zorro_task_name(p)}\ndataset_kwargs:\n  paradigm: {p}\n"
        for p in ZORRO_PARADIGMS
    }
    members = "".join(f"  - {zorro_task_name(p)}\n" for p in ZORRO_PARADIGMS)
    aggregate = "".join(
        f"  - metric: {metric}\n    aggregation: mean\n    weight_by_size: false\n" for metric in ("acc", "margin")
    )
    files["_zorro.yaml"] = (
        "# Unweighted mean over paradigms, as published Zorro figures are computed.\n"
        f"group: zorro\ntask:\n{members}aggregate_metric_list:\n{aggregate}metadata:\n  version: 1.0\n"
    )
    return files


if __name__ == "__main__":
    for name, text in configs().items():
        (HERE / name).write_text(text)
