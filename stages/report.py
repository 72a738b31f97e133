"""python stages/report.py

Writes notes/report.md and notes/loss_curves.png from metrics/*.json, data/eval*/ and dvclive/: the decision
on both evaluation splits (majority class, TF-IDF + logistic regression, zero-shot and few-shot base, LoRA,
QLoRA; each fine-tune minus the classic baseline and minus few-shot prompting with paired intervals), a
write-up that says plainly when a fine-tune loses to the simplest method, each fine-tune against its own
base, the forgetting probe, loss curves, severity confusion, training figures, the params, and the biggest
wins and losses with raw outputs (ftlab/eval/reporting.py). Every sentence about the numbers is computed from them.
"""

import yaml

from ftlab import contracts, params, stage, tasks
from ftlab.eval import evaluation, metrics, reporting, scaling
from ftlab.io import read_json, read_jsonl, write_text

R = reporting


def decision(evals: dict, deltas: dict, k: int) -> list[str]:
    lines = ["## The decision", ""]
    for split in (s for s in evaluation.SPLITS if s in evals):
        rows = evals[split]["base"]["rows"]
        lines += [f"### On the {R.SPLIT_TITLE[split]} ({rows} rows)", "", *R.decision_table(evals, deltas, split)]
        lines += [f"- {s}" for s in R.against_baselines(evals, deltas, split)]
        if metrics.FEW_SHOT in evals[split]:
            better, worse, _ = R.verdict(deltas[split][metrics.FEW_SHOT], metrics.METRICS)
            lines.append(f"- Few-shot prompting (k={k}) against zero-shot: better on {', '.join(better) or 'no metric'}"
                         f"{', worse on ' + ', '.join(worse) if worse else ''}.")
            for ft in metrics.PAIRS:
                better, worse, same = R.verdict(deltas[split][f"{ft}_vs_fewshot"], metrics.METRICS)
                lines.append(f"- {R.LABEL[ft]} against few-shot prompting: better on {', '.join(better) or 'no metric'}; worse on "
                             f"{', '.join(worse) or 'no metric'}; the test cannot tell them apart on {', '.join(same) or 'no metric'}.")
        lines += [f"- {R.power_note(rows)}", ""]
        table, cannot_tell = R.exact_tests(deltas, split, rows)
        if table:
            lines += [f"Exact tests on the {R.SPLIT_TITLE[split]}: McNemar's exact test on the rows that flipped, Holm's "
                      "correction across every row of this table, and the smallest difference the test detects with 80% "
                      "power at the observed share of disagreeing rows (`ftlab/eval/stats.py`).", "", *table,
                      *[f"- {note}" for note in cannot_tell], *([""] if cannot_tell else [])]
    if gap := evals.get("transfer_gap"):
        lines += [f"Transfer gap (classic baseline, generated test minus real reports): severity {gap['severity']:+.3f}, "
                  f"category {gap['category']:+.3f}. A large gap means the generated labels can be read off phrases that "
                  "real reports do not use.", ""]
    return lines


def per_finetune(evals, deltas, trained, raw, outputs, test, n) -> list[str]:
    lines = []
    for ft, (base, stage_name) in metrics.PAIRS.items():
        t = trained[stage_name]
        lines += [f"## {R.LABEL[ft]}: `{base}` vs `{ft}`", ""]
        for split in (s for s in evaluation.SPLITS if s in evals):
            lines += [f"On the {R.SPLIT_TITLE[split]}:", "",
                      *R.finetune_table(evals, deltas, split, ft, base, metrics.metric_names(tasks.get("triage")))]
        lines += ["Forgetting probe (general questions without the triage prompt; for `probe_triage_json` 1 is bad):", "",
                  *R.probe_table(evals, deltas, ft, base),
                  f"Training on {t.get('device', 'an unrecorded device')}"
                  f"{' (params.yaml with its on_cuda settings merged in)' if t.get('on_cuda') else ''}: "
                  f"{t['train_rows']} rows, {t['steps']} optimizer steps, {t['train_seconds']} s, final train loss "
                  f"{t['train_loss']}, eval loss {t['eval_loss']}, {t['trainable_params']:,} trainable parameters "
                  f"({t['trainable_percent']}%), base in 4 bits: {t['loaded_in_4bit']}.", "",
                  "<details><summary>params.yaml section that produced it (merged over `train:`)</summary>", "", "```yaml",
                  yaml.safe_dump({stage_name: params.raw_section(stage_name, raw)}, sort_keys=False).rstrip(), "```", "</details>", ""]
        if "severity_macro_f1" in evals["test"][base]:
            lines += ["### Severity confusion on the generated test split (rows: gold, columns: predicted)", ""]
            for name in (base, ft):
                lines += R.confusion(outputs["test"][name], name, evals["test"][name]["severity_macro_f1"])
        lines += ["### Wins and losses (generated test split)", "",
                  *R.wins_and_losses(outputs["test"][base], outputs["test"][ft], base, ft, *test, n)]
    return lines


def scaling_curve() -> list[str]:
    """The data-scaling curve (metrics/scaling.json, written by `python -m ftlab.eval.scaling`), when it has been run."""
    lines = ["## How many real reports before a fine-tune beats a bag of words?", ""]
    if not contracts.SCALING.is_file():
        return lines + ["(not run: README \"Data-scaling curve\")", ""]
    result = read_json(contracts.SCALING)
    return lines + [f"Accuracy on the held-out real reports ({result['rows']} rows) against the real training rows "
                    f"(`{contracts.SCALING}`, from {result['source']}): the fine-tune's mean over its seeds (range in brackets) "
                    "and the TF-IDF + logistic regression baseline fitted on the same rows.", "",
                    *scaling.table(result), "", f"![accuracy against real training rows]({scaling.FIGURE.name})", ""]


def main() -> None:
    p = params.load("report")
    evals, deltas = read_json(contracts.EVAL_METRICS), read_json(contracts.DELTA_METRICS)
    trained = {s: read_json(contracts.metrics_file(s)) for _, s in metrics.PAIRS.values()}
    rows = read_jsonl(contracts.PREPARED / "test.jsonl")
    test = ({r["id"]: r["messages"][-2]["content"] for r in rows}, {r["id"]: r["messages"][-1]["content"] for r in rows})
    outputs = {split: {name: evaluation.load(contracts.EVAL if name in metrics.PAIRS else contracts.EVAL_BASE, split, name)
                       for name in evals[split]} for split in evaluation.SPLITS if split in evals}
    raw = params.read_yaml()
    contracts.REPORT.parent.mkdir(exist_ok=True)
    plotted = R.loss_curves(contracts.LOSS_CURVES, [s for _, s in metrics.PAIRS.values()])
    lines = ["# Fine-tuning report", "",
             "Generated by `stages/report.py` from `metrics/`, `data/eval*/` and `dvclive/`; do not edit by hand. Metrics follow",
             "`../shared/triage-spec.md`: `format_conformance` is strict (exactly one valid JSON object), `parseable` lenient;",
             "label accuracies accept every answer a row lists as defensible (`*_exact`: the preferred one only); the label",
             "fields are decoded under the spec's values (constrained decoding) when `evaluate.constrained`; `faithfulness` is",
             "the judge in params; `answer_loss` and `*_label_loss` are teacher-forced on the reference answer (lower is better).",
             "Intervals are paired bootstrap 95% intervals over the same rows (2,000 resamples); a difference is called better",
             "or worse only when its whole interval is on one side of zero.",
             "Background: [LoRA](lora.md), [QLoRA](qlora.md), [when (not) to fine-tune](when-to-fine-tune.md).", "",
             *decision(evals, deltas, raw["evaluate"]["few_shot_k"]),
             "## Loss curves", "",
             "![train and eval loss per optimizer step](loss_curves.png)" if plotted else "(no dvclive logs found: run the train stages)", "",
             *scaling_curve(),
             *per_finetune(evals, deltas, trained, raw, outputs, test, p.n_examples)]
    write_text(contracts.REPORT, "\n".join(lines))
    print("wrote notes/report.md and notes/loss_curves.png")


if __name__ == "__main__":
    stage.run(main)
