"""The data-scaling curve: how many real, labelled reports before a fine-tune beats a bag of words?

Each point is a training set of N real rows (prepare.mix.real = N; the same first N at every N, so the sets are
nested), with or without the generated rows beside them, scored on the held-out real split. Two ways to fill it:

    # the pipeline itself, one DVC experiment per (N, seed), on a GPU box (README "Data-scaling curve"):
    dvc exp run --queue -S 'prepare.mix.real=0,50,100,200,400,null' -S '+train_lora.sft.seed=42,43,44'
    dvc queue start --jobs 1 && dvc queue status        # wait until every experiment has run
    python -m ftlab.eval.scaling exps                       # metrics/scaling.json and notes/scaling.png

    # bench/decision.py's cases of the same recipe and row choice, and pipeline runs' metrics (2026-12-06);
    # FILE.json:CASE,CASE keeps only those cases of that file (a file also holding other recipes' cases):
    python -m ftlab.eval.scaling bench bench/out/decision/<file>.json[:CASES] ... [--pipeline EVAL.json PREPARE.json SEED]

Both write metrics/scaling.json ({"points": [...], "source": ...}: per N the fine-tune's and the classic
baseline's accuracy on each label, the mean over seeds with its range, and a 95% Wilson interval of one run) and
draw notes/scaling.png; the report stage prints its table.
"""
import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from ftlab import contracts
from ftlab.io import DataFileError

OUT, FIGURE = contracts.SCALING, contracts.SCALING_FIGURE
FIELDS = ("severity", "category")


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of an accuracy p over n rows."""
    if n == 0:
        return (0.0, 1.0)
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def summarize(runs: list[dict], rows: int, source: str) -> dict:
    """runs: {"real_rows", "generated", "seed", "lora_<field>", "classic_<field>", "majority_<field>"} -> the points."""
    grouped = defaultdict(list)
    for run in runs:
        grouped[(run["generated"], run["real_rows"])].append(run)
    points = []
    for (generated, real_rows), group in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        point = {"generated": generated, "real_rows": real_rows,
                 "seeds": sorted(r["seed"] for r in group if r.get("lora_severity") is not None)}
        for model in ("lora", "classic", "majority"):
            for field in FIELDS:
                values = [r[f"{model}_{field}"] for r in group if r.get(f"{model}_{field}") is not None]
                if not values:  # a point with the baselines only (no fine-tune trained there)
                    continue
                mean = round(sum(values) / len(values), 4)
                point[f"{model}_{field}"] = mean
                point[f"{model}_{field}_min"], point[f"{model}_{field}_max"] = min(values), max(values)
                point[f"{model}_{field}_ci"] = wilson(mean, rows)
        points.append(point)
    return {"rows": rows, "source": source, "points": points}


def from_decision(paths: list[Path | str], split: str = "reports", pipeline: list[tuple[Path, Path, int]] = ()) -> dict:
    """Points from bench/decision.py results (every case that names its sources, scored on `split`; `FILE:A,B` keeps
    only the cases named A and B of FILE) and from pipeline runs ((metrics/eval.json, metrics/prepare.json, training
    seed) of `make repro`)."""
    runs = [from_pipeline(*run) for run in pipeline]
    rows = runs[0]["rows"] if runs else 0
    for spec in paths:
        path, _, names = str(spec).partition(":")
        path, keep = Path(path), set(filter(None, names.split(",")))
        if not path.is_file():
            raise DataFileError(f"{path}: no such bench result (bench/decision.py --out writes OUT/decision.json)")
        data = json.loads(path.read_text())
        unknown = keep - {case.get("case") for case in data["cases"]}
        if unknown:
            raise DataFileError(f"{path}: no case named {', '.join(sorted(unknown))} in it; drop the name or fix the file")
        for case in data["cases"]:
            key = f"{split}_constrained"
            if keep and case.get("case") not in keep:
                continue
            if "train_rows" not in case or f"{split}_classic_severity_accuracy" not in case.get("baselines", {}):
                continue
            rows = rows or _rows(path, split)
            base = case["baselines"]
            runs.append({"real_rows": case["train_rows"]["real"], "generated": case["train_rows"]["generated"] > 0,
                         "seed": case["seed"],
                         **{f"lora_{f}": case[key][f"{f}_accuracy"] if key in case else None for f in FIELDS},
                         **{f"{kind}_{f}": base[f"{split}_{kind}_{f}_accuracy"] for kind in ("classic", "majority")
                            for f in FIELDS}})
    sources = [f"bench/decision.py: {', '.join(map(str, paths))}"] if paths else []
    sources += [f"make repro: {run[0]}" for run in pipeline]
    return summarize(runs, rows, "; ".join(sources))


def from_pipeline(eval_path: Path, prepare_path: Path, seed: int) -> dict:
    """One run from a pipeline run's metrics/eval.json (its `real` split) and metrics/prepare.json (rows by source)."""
    ev, prep = json.loads(Path(eval_path).read_text()), json.loads(Path(prepare_path).read_text())
    return {"real_rows": prep.get("train_rows_real", 0),
            "generated": prep.get("train_rows_generated", prep.get("train_rows", 0)) > 0, "seed": seed,
            **{f"{model}_{f}": ev["real"][model][f"{f}_accuracy"] for model in ("lora", "classic", "majority") for f in FIELDS},
            "rows": ev["real"]["lora"]["rows"]}


def _rows(path: Path, split: str) -> int:
    from ftlab.io import read_jsonl

    real = Path(f"data/real/{split}.jsonl")
    return len(read_jsonl(real)) if real.is_file() else 0


def _merged_seed(prm: dict) -> int:
    """train_lora's training seed in an experiment's params: its own, else the shared `train:` section's."""
    from ftlab.params import SHARED, raw_section

    return raw_section("train_lora", {SHARED: {}, **prm})["sft"]["seed"]


def from_exps() -> dict:
    """Points from the DVC experiments of this repository (`dvc exp show --json`): each experiment's
    prepare.mix, training seed and metrics/eval.json's real split."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True, check=True).stdout)
    runs, rows = [], 0
    for commit in shown:
        for exp in [commit, *[e for exps in (commit.get("experiments") or []) for e in exps.get("revs", [])]]:
            data = (exp.get("data") or {})
            prm = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
            ev = ((data.get("metrics") or {}).get("metrics/eval.json") or {}).get("data") or {}
            prep = ((data.get("metrics") or {}).get("metrics/prepare.json") or {}).get("data") or {}
            if "real" not in ev or "prepare" not in prm:
                continue
            rows = ev["real"]["lora"].get("rows", rows)
            runs.append({"real_rows": prep.get("train_rows_real", 0), "generated": prep.get("train_rows_generated", 0) > 0,
                         "seed": _merged_seed(prm),
                         **{f"{model}_{f}": ev["real"][model][f"{f}_accuracy"] for model in ("lora", "classic", "majority")
                            for f in FIELDS}})
    if not runs:
        raise RuntimeError("no DVC experiment with metrics/eval.json found: run the sweep first (python -m ftlab.eval.scaling)")
    # `dvc exp show` lists the workspace beside its commit: the same run twice counts once.
    unique = list({(r["real_rows"], r["generated"], r["seed"]): r for r in runs}.values())
    return summarize(unique, rows, "dvc exp show")


def table(result: dict) -> list[str]:
    """The curve as a Markdown table: per point, each label's fine-tune (mean, range over seeds) and classic."""
    lines = [f"| real rows | generated beside | seeds | LoRA severity | classic severity | LoRA category | classic category |",
             "| ---: | --- | --- | --- | --- | --- | --- |"]
    for p in result["points"]:
        cells = []
        for f in FIELDS:
            lora = (f"{p[f'lora_{f}']:.3f} ({p[f'lora_{f}_min']:.3f}-{p[f'lora_{f}_max']:.3f})" if f"lora_{f}" in p
                    else "not trained")
            cells += [lora, f"{p[f'classic_{f}']:.3f}"]
        lines.append(f"| {p['real_rows']} | {'yes' if p['generated'] else 'no'} | {len(p['seeds'])} | " + " | ".join(cells) + " |")
    return lines


def draw(result: dict, path: Path = FIGURE) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, field in zip(axes, FIELDS):
        for generated, style in ((False, "-"), (True, "--")):
            points = [p for p in result["points"] if p["generated"] == generated]
            if not points:
                continue
            suffix = " + generated rows" if generated else ", real rows only"
            for model, colour in (("lora", "tab:blue"), ("classic", "tab:orange")):
                have = [p for p in points if f"{model}_{field}" in p]
                if not have:
                    continue
                x = [p["real_rows"] for p in have]
                y = [p[f"{model}_{field}"] for p in have]
                low = [p[f"{model}_{field}_ci"][0] for p in have]
                high = [p[f"{model}_{field}_ci"][1] for p in have]
                ax.plot(x, y, style, marker="o" if generated else "s", markerfacecolor=colour if generated else "white",
                        color=colour, label=f"{'LoRA' if model == 'lora' else 'TF-IDF + LR'}{suffix}")
                ax.fill_between(x, low, high, color=colour, alpha=0.08 if generated else 0.15)
                if model == "lora":
                    ax.vlines(x, [p[f"lora_{field}_min"] for p in have], [p[f"lora_{field}_max"] for p in have],
                              color=colour, linewidth=3, alpha=0.5)
        majority = [p["majority_" + field] for p in result["points"] if p["real_rows"]]
        if majority:
            ax.axhline(max(majority), color="grey", linestyle=":", label="majority class (most frequent real label)")
        ax.set_xscale("symlog", linthresh=50)
        ticks = sorted({p["real_rows"] for p in result["points"]})
        # a count close to the one before it (1,298 and 1,582) gets its label a line lower, so the two stay legible
        ax.set_xticks(ticks, [("\n" if i and t < 1.5 * ticks[i - 1] else "") + str(t) for i, t in enumerate(ticks)])
        ax.set_xlim(-10, max(ticks) * 1.3)  # room for the last point's marker and range bar
        ax.set_xlabel("real training rows (0 = generated rows only)")
        ax.set_title(f"{field} accuracy on the held-out real reports ({result['rows']} rows)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (inside the ok-lists)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.text(0.01, 0.01, "bands: 95% Wilson interval of one run; bars: range over seeds. " + result["source"][:120], fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("exps", "bench"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "exps":
        result = from_exps()
    else:  # bench FILE.json[:CASES] ... [--pipeline EVAL.json PREPARE.json SEED]...
        files, pipeline, rest = [], [], list(argv[1:])
        while rest:
            if rest[0] == "--pipeline":
                pipeline.append((Path(rest[1]), Path(rest[2]), int(rest[3])))
                rest = rest[4:]
            else:
                files.append(rest.pop(0))
        result = from_decision(files, pipeline=pipeline)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    draw(result)
    print("\n".join(table(result)))
    print(f"wrote {OUT} and {FIGURE}")
    return 0


if __name__ == "__main__":
    from ftlab.stage import exit_on_error

    exit_on_error(lambda: sys.exit(main(sys.argv[1:])))
