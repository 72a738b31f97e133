"""The pieces of notes/report.md (stages/report.py): tables and sentences computed from metrics/eval.json,
metrics/delta.json, the scored rows and the training metrics. Nothing here states a number it did not read.

A difference is called better or worse only when its whole paired 95% interval is on one side of zero;
otherwise the write-up says the test cannot tell the two apart.
"""
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from ftlab import contracts, triage
from ftlab.eval import metrics, stats

LABEL = {"majority": "Majority class", "classic": "Classic (TF-IDF + LR)", "base": "Zero-shot base",
         metrics.FEW_SHOT: "Few-shot base", "qlora_base": "4-bit base (zero-shot)", "lora": "LoRA", "qlora": "QLoRA"}
NAMED = {"majority": "the majority class", "classic": "the classic baseline (TF-IDF + logistic regression)"}
SPLIT_TITLE = {"test": "generated test split", "real": "real incident reports"}
# The decision table's columns, the simplest method first.
COLUMNS = ("majority", "classic", "base", metrics.FEW_SHOT, "lora", "qlora")


def short(text: str, limit: int = 320) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit] + " …"


def interval(d: dict, m: str) -> str:
    return f"{d[m]:+.3f} [{d[m + '_ci_low']:+.3f}, {d[m + '_ci_high']:+.3f}]"


def verdict(d: dict, names) -> tuple[list, list, list]:
    """Metrics whose paired 95% interval lies wholly on the better side of zero, wholly on the worse side,
    and the rest. Nothing else is ever called better or worse."""
    names = [m for m in names if m + "_ci_low" in d]
    up = [m for m in names if d[m + "_ci_low"] > 0]
    down = [m for m in names if d[m + "_ci_high"] < 0]
    better = [m for m in names if m in (down if m in metrics.LOWER_IS_BETTER else up)]
    worse = [m for m in names if m in (up if m in metrics.LOWER_IS_BETTER else down)]
    return better, worse, [m for m in names if m not in better + worse]


def cell(block: dict, m: str) -> str:
    return f"{block[m]:.3f}" if m in block else "–"


def decision_table(evals: dict, deltas: dict, split: str) -> list[str]:
    """The label decision on one split: every baseline and model side by side, then each fine-tune minus the
    classic baseline and minus few-shot prompting, with paired intervals."""
    shown = [c for c in COLUMNS if c in evals[split]]
    names = [m for m in (*metrics.LABEL_METRICS, *(metrics.EXACT_METRICS if split == "real" else ()),
                         "format_conformance", "services_f1", "faithfulness", "severity_macro_f1", "answer_loss")
             if any(m in evals[split][c] for c in shown)]
    rows = []
    for m in names:
        row = [m, *(cell(evals[split][c], m) for c in shown)]
        for ft in metrics.PAIRS:
            for ref in ("classic", metrics.FEW_SHOT):
                d = deltas[split].get(f"{ft}_vs_{'fewshot' if ref == metrics.FEW_SHOT else ref}", {})
                row.append(interval(d, m) if m + "_ci_low" in d else "–")
        rows.append(row)
    heads = ["Metric", *(LABEL[c] for c in shown)] + [f"{LABEL[ft]} − {LABEL[ref].split(' (')[0]} [95% CI]"
                                                      for ft in metrics.PAIRS for ref in ("classic", metrics.FEW_SHOT)]
    return [tabulate(rows, headers=heads, tablefmt="github", disable_numparse=True), ""]


def against_baselines(evals: dict, deltas: dict, split: str) -> list[str]:
    """Plain sentences: does each fine-tune beat the majority class and the classic baseline on the labels?"""
    out = []
    e = evals[split]
    rows = e["base"]["rows"] if "base" in e else next(iter(e.values()))["rows"]
    for ft in metrics.PAIRS:
        if ft not in e:
            continue
        for m in metrics.LABEL_METRICS:
            parts = []
            for kind in metrics.BASELINES:
                d = deltas[split].get(f"{ft}_vs_{kind}", {})
                if m + "_ci_low" not in d:
                    continue
                better, worse, _ = verdict(d, [m])
                word = ("beats" if better else "loses to" if worse else "cannot be told apart from")
                parts.append(f"{word} {NAMED[kind]} ({e[kind][m]:.2f}; delta {interval(d, m)})")
            if parts:
                out.append(f"{LABEL[ft]} {m.replace('_', ' ')} on the {SPLIT_TITLE[split]} ({rows} rows) is "
                           f"{e[ft][m]:.2f}: it " + "; it ".join(parts) + ".")
        worse_any = [kind for kind in metrics.BASELINES for m in metrics.LABEL_METRICS
                     if m + "_ci_high" in deltas[split].get(f"{ft}_vs_{kind}", {})
                     and verdict(deltas[split][f"{ft}_vs_{kind}"], [m])[1]]
        if worse_any:
            out.append(f"So on the {SPLIT_TITLE[split]} {LABEL[ft]} loses to the simplest method "
                       f"({' and '.join(NAMED[k] for k in metrics.BASELINES if k in worse_any)}): use that instead of this "
                       "fine-tune for the label decision.")
    return out


# The 0/1 metrics of the exact tests, and each comparison a fine-tune gets in the decision: the key in
# metrics/delta.json -> what the fine-tune is compared with.
EXACT_TESTED = ("format_conformance", *metrics.LABEL_METRICS)
AGAINST = {"{ft}": "its own base", "{ft}_vs_classic": "the classic baseline", "{ft}_vs_fewshot": "few-shot prompting"}


def exact_tests(deltas: dict, split: str, rows: int) -> tuple[list[str], list[str]]:
    """McNemar's exact test for every (fine-tune, comparison, 0/1 metric) of one split, Holm-adjusted across all of
    them (one family per split), with the smallest difference the test detects at 80% power given the observed
    share of rows that disagree. Returns the table and one sentence per difference the test cannot tell."""
    tests = []
    for ft in metrics.PAIRS:
        for key, against in AGAINST.items():
            d = deltas[split].get(key.format(ft=ft), {})
            for m in EXACT_TESTED:
                if f"{m}_wrong_to_right" in d:
                    b, c = d[f"{m}_wrong_to_right"], d[f"{m}_right_to_wrong"]
                    tests.append((ft, against, m, d[m], b, c, stats.mcnemar_exact(b, c)))
    if not tests:
        return [], []
    adjusted = stats.holm([t[-1] for t in tests])
    table, notes = [], []
    for (ft, against, m, delta, b, c, p), holm_p in zip(tests, adjusted):
        mde = stats.minimum_detectable(rows, max((b + c) / rows, abs(delta)))
        if holm_p < stats.ALPHA:
            reading = "better" if delta > 0 else "worse"
        elif mde is None or abs(delta) < mde:
            reading = "cannot tell"
            notes.append(f"{LABEL[ft]} against {against} on {m.replace('_', ' ')}: {delta:+.3f} is below what {rows} rows "
                         f"can detect ({'no difference is detectable' if mde is None else f'{mde:.3f} at 80% power'}), "
                         "so the test cannot tell, which is not the same as no change.")
        else:
            reading = "not significant after Holm"
        table.append([f"{LABEL[ft]} vs {against}", m, f"{delta:+.3f}", f"{b} / {c}", f"{p:.3g}", f"{holm_p:.3g}",
                      "–" if mde is None else f"{mde:.3f}", reading])
    heads = ["Comparison", "Metric", "Delta", "Wrong→right / right→wrong", "McNemar exact p", "Holm p",
             "Detectable at 80% power", "Reading"]
    return [tabulate(table, headers=heads, tablefmt="github", disable_numparse=True), ""], notes


def power_note(rows: int) -> str:
    return f"{rows} rows: one row is {100 / rows:.1f} points of accuracy."


def loss_curves(path: Path, stages) -> list[str]:
    """Plot train and eval loss per step from the dvclive logs of the train stages."""
    import matplotlib

    matplotlib.use("Agg")  # no display on CI or a GPU box
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    plotted = []
    for stage in stages:
        for kind, file, style in (("train", "loss.tsv", "-"), ("eval", "eval/loss.tsv", "--")):
            tsv = contracts.dvclive_dir(stage) / "plots/metrics" / file
            if tsv.is_file():
                df = pd.read_csv(tsv, sep="\t")
                ax.plot(df["step"], df[df.columns[-1]], style, marker=".", label=f"{stage} {kind} loss")
                plotted.append(f"{stage} {kind}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    if plotted:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return plotted


def finetune_table(evals: dict, deltas: dict, split: str, finetune: str, base: str, names) -> list[str]:
    d, e = deltas[split][finetune], evals[split]
    table = [[m, cell(e[base], m), cell(e[finetune], m), f"{d[m]:+.4f}", f"[{d[m + '_ci_low']:+.3f}, {d[m + '_ci_high']:+.3f}]",
              f"{d[m + '_wrong_to_right']} / {d[m + '_right_to_wrong']}" if m + "_wrong_to_right" in d else ""]
             for m in names if m in d]
    table += [[m, e[base][m], e[finetune][m], f"{d[m]:+.3f}", "", ""] for m in ("severity_macro_f1", "latency_s") if m in d]
    return [tabulate(table, headers=["Metric", "Base", "Fine-tuned", "Delta", "Delta 95% CI", "Flips +/-"], tablefmt="github"), ""]


def probe_table(evals: dict, deltas: dict, finetune: str, base: str) -> list[str]:
    d, p = deltas["probe"][finetune], evals["probe"]
    rows = [[m, p[base][m], p[finetune][m], interval(d, m)] for m in metrics.PROBE_METRICS if m + "_ci_low" in d]
    rows.append(["general_perplexity", p[base]["general_perplexity"], p[finetune]["general_perplexity"], f"{d['general_perplexity']:+.3f}"])
    return [tabulate(rows, headers=["Probe", "Base", "Fine-tuned", "Delta [95% CI]"], tablefmt="github"), ""]


def confusion(rows: list[dict], name: str, macro_f1) -> list[str]:
    return [f"`{name}`, severity macro-F1 {macro_f1}:", "",
            tabulate([[g, *counts] for g, counts in zip(triage.SEVERITIES, metrics.severity_confusion(rows))],
                     headers=["gold \\ predicted", *triage.SEVERITIES, "none"], tablefmt="github"), ""]


def wins_and_losses(base_rows, tuned_rows, base: str, tuned: str, reports: dict, golds: dict, n: int) -> list[str]:
    """The n rows the fine-tune improved most and the n it hurt most (by the sum of per-row metrics)."""
    changes = sorted(((metrics.row_total(t) - metrics.row_total(b), b, t) for b, t in zip(base_rows, tuned_rows)),
                     key=lambda x: x[0])
    improved = [x for x in reversed(changes) if x[0] > 0]
    hurt = [x for x in changes if x[0] < 0]
    lines = []
    for title, chosen, word in (("Wins", improved, "higher"), ("Losses", hurt, "lower")):
        lines += [f"#### {title}: {min(len(chosen), n)} shown of {len(chosen)} rows where `{tuned}` scored {word} than `{base}`", ""]
        for _, b, t in chosen[:n]:
            lines += [f"**{b['id']}** (sum of row metrics {metrics.row_total(b):.2f} → {metrics.row_total(t):.2f}): "
                      f"{short(reports[b['id']], 400)}", "",
                      tabulate([["gold", short(golds[b["id"]])], [base, short(b["output"]) or "(empty)"],
                                [tuned, short(t["output"]) or "(empty)"]], headers=["model", "raw output"], tablefmt="github"), ""]
    return lines
