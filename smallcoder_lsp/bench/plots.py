"""PNG plots (matplotlib, from the ``bench`` extra): latency CDFs and per-category bars."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _load_pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_cdf(plt: Any, result: dict[str, Any], path: Path) -> None:
    """The share of typing pauses (from the last key) and of line cuts (from the request) that got a non-empty
    suggestion within x ms; each curve levels off at the share that got one at all."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for stage in result["stages"]:
        if stage["kind"] == "typing":
            times = stage.get("pause_ms") or []
            label = f"{stage['label']} (pause to suggestion)"
        elif stage["kind"] == "lines":
            times = [r["response_ms"] if r["suggestion"] else None for r in stage.get("records") or []]
            label = f"{stage['label']} (request to suggestion)"
        else:
            continue
        values = sorted(t for t in times if t is not None)
        if values:
            ax.step(values, [(i + 1) / len(times) for i in range(len(values))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("ms (log scale)")
    ax.set_ylabel("share of pauses / cuts")
    ax.set_ylim(0, 1)
    ax.axvline(150, color="grey", linestyle=":", linewidth=1)
    ax.axvline(400, color="grey", linestyle="--", linewidth=1)
    ax.legend(fontsize=7)
    ax.set_title("Time to a suggestion")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def category_bars(plt: Any, result: dict[str, Any], path: Path) -> bool:
    stage = next((s for s in result["stages"] if s["kind"] == "corpus" and s["ok"]), None)
    if stage is None or not stage["by_category"]:
        return False
    names = list(stage["by_category"])
    metrics = ("pass_at_1", "shown_valid_rate", "keyword_score")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(metrics)
    for i, key in enumerate(metrics):
        values = [stage["by_category"][n].get(key) or 0.0 for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=key)
    ax.set_xticks([x + width for x in range(len(names))], [n.replace("_", "\n") for n in names], fontsize=7)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Coding corpus by category")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_plots(result: dict[str, Any], out_dir: Path) -> tuple[list[str], str]:
    """The written PNG paths, and a note when there are none."""
    try:
        plt = _load_pyplot()
    except ImportError:
        return [], "Plots skipped: matplotlib is not installed (pip install 'smallcoder-lsp[bench]')."
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    cdf = out_dir / "latency_cdf.png"
    latency_cdf(plt, result, cdf)
    written.append(str(cdf))
    bars = out_dir / "categories.png"
    if category_bars(plt, result, bars):
        written.append(str(bars))
    return written, ""
