"""Every model and baseline on every evaluation split: the pieces of stages/evaluate_base.py and stages/evaluate.py.

Splits: `test` (the generated data's held-out rows, with reference answers) and `real` (real incident reports
with gold labels only, data/prepared/real.jsonl). Variants:
  base          the base model, zero-shot, with the rubric prompt (what it needs to know the task);
  base_fewshot  the same with evaluate.few_shot_k training examples before the report (prompting's best);
  qlora_base    the QLoRA base in 4 bits, zero-shot: the weights the QLoRA adapter was trained on;
  lora, qlora   the fine-tunes, with the prompt they were trained with (their ftlab_base.json);
  majority, classic   the label baselines of ftlab/eval/baselines.py, fitted on the training split.
Every generating variant is decoded greedily, with the label fields constrained to the spec's values when
evaluate.constrained (ftlab.eval.generation.EnumValues), and scored per row (ftlab.eval.metrics.score_row); rows with a
reference answer also get its teacher-forced loss and each label's token loss (ftlab.eval.generation.answer_scores).
"""
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ftlab import triage
from ftlab.eval import baselines, generation, judge, metrics
from ftlab.tasks import Task
from ftlab.io import DataFileError, read_jsonl, write_jsonl
from ftlab.errors import FtlabError

SPLITS = ("test", "real")
BASES = ("base", metrics.FEW_SHOT, "qlora_base")  # evaluate_base's variants


class EvaluationError(FtlabError):
    """One line for the stage to print as `error: ...`."""


def check_judge(p) -> None:
    """A missing key for the Claude judge stops the stage before any work."""
    try:
        judge.check_key(p.judge)
    except judge.JudgeError as e:
        raise EvaluationError(f"evaluate.judge: {e}") from None


@dataclass
class Split:
    name: str
    ids: list
    reports: list[str]
    golds: list  # label dicts (triage), or None per row (a generic data set)
    answers: list  # the reference answer message per row, or None (the real split has labels only)
    chats: list  # the prepared prompt messages per row (a generic data set is prompted with its own), or None


def load_splits(data: Path, max_rows, task: Task) -> dict[str, Split]:
    """The evaluation splits of data/prepared: test (its first max_rows rows) and, for a labelled task, real."""
    try:
        test = read_jsonl(data / "test.jsonl")[:max_rows]
        real = read_jsonl(data / "real.jsonl") if task.labelled and (data / "real.jsonl").is_file() else []
    except DataFileError as e:
        raise EvaluationError(f"{e}; run the prepare stage first (dvc repro)") from None
    if not test:
        raise EvaluationError(f"{data / 'test.jsonl'} has no rows; raise prepare.test_fraction or generate_data.n_rows")
    splits = {"test": Split("test", [r["id"] for r in test], [triage.report_of(r) for r in test],
                            [task.gold(r["messages"][-1]["content"]) for r in test],
                            [r["messages"][-1] for r in test], [r["messages"][:-1] for r in test])}
    if real:
        splits["real"] = Split("real", [r["id"] for r in real], [r["report"] for r in real], real, [None] * len(real),
                               [None] * len(real))
    return splits


def prompts(split: Split, style: str, shots: list[dict], task: Task) -> list[list[dict]]:
    """The chat prompt of every row of `split` (Task.prompts): `style` is the triage system prompt, `shots` the
    few-shot training rows."""
    return task.prompts(split.reports, split.chats, style, shots)


def run(model, tokenizer, name: str, split: Split, chat_prompts, p, task: Task, judge_cache: Path,
        values: str = "spec") -> tuple[list[dict], dict]:
    """One variant on one split: its scored rows (output included) and the judge's token use. `values`: the label
    values the model was trained to write (triage.LABEL_VALUES); its replies are put back to the spec's before
    they are scored or saved."""
    constrain = task.constraint(values, p.constrained)
    started = time.perf_counter()
    try:
        replies = generation.generate(model, tokenizer, chat_prompts, p.max_new_tokens, p.batch_size,
                                      desc=f"{name} {split.name}", constrain=constrain,
                                      json_within=task.json_within(p.json_within))
    except generation.PromptTooLong as e:  # e.g. few_shot_k long examples before a long report
        raise EvaluationError(f"{name}: {split.name} row {split.ids[e.index]}: {e.tokens} prompt tokens plus "
                              f"evaluate.max_new_tokens exceed the model's context of {e.context}; lower "
                              "evaluate.few_shot_k or max_new_tokens") from None
    replies = [(task.to_spec(text, values), seconds) for text, seconds in replies]
    rows = [{"id": i, **(metrics.score_row(text, gold, report) if gold else {}), "latency_s": round(seconds, 3),
             "output": text} for i, gold, report, (text, seconds) in zip(split.ids, split.golds, split.reports, replies)]
    decoded = time.perf_counter()
    if any(a is not None for a in split.answers):  # teacher-forced: the reference answer's loss, each label's
        answers = [{**a, "content": task.from_spec(a["content"], values)} for a in split.answers]  # as trained
        # The label losses only: the likelihood-scored labels agreed with constrained decoding to a row in every
        # case of notes/decision.md, and cost two more forward passes a row.
        scores = generation.answer_scores(model, tokenizer, [[*c, a] for c, a in zip(chat_prompts, answers)],
                                          task.constraint(values, True), score_values=False,
                                          desc=f"{name} {split.name} scores")
        for row, s in zip(rows, scores):
            row.update(s)
    # Where an evaluation stage's time goes, in its log (notes/decision.md section 7 reads these lines).
    print(f"{name} {split.name}: {len(rows)} rows decoded in {decoded - started:.1f} s, teacher-forced scores in "
          f"{time.perf_counter() - decoded:.1f} s", file=sys.stderr, flush=True)
    used = {}
    if task.labelled:  # faithfulness from the judge in params (offline: the same deterministic score)
        try:
            faith, used = judge.scores(p.judge, [(rep, triage.parse_lenient(r["output"])) for rep, r in zip(split.reports, rows)],
                                       judge_cache)
        except judge.JudgeError as e:
            raise EvaluationError("" if e.interrupted else f"evaluate.judge: {e}", 130 if e.interrupted else 1) from None
        for row, f in zip(rows, faith):
            row["faithfulness"] = f
    return rows, used


def baseline_rows(fitted: dict, split: Split) -> dict[str, list[dict]]:
    """Each label baseline's scored rows on a triage split (`fitted`: baselines.fit_all of the training split)."""
    predicted = baselines.predict(fitted, [{"report": r} for r in split.reports])
    return {kind: [{"id": i, **metrics.score_labels(pred, gold), "prediction": pred}
                   for i, pred, gold in zip(split.ids, rows, split.golds)] for kind, rows in predicted.items()}


def save(out: Path, split: str, name: str, rows: list[dict]) -> None:
    write_jsonl(out / f"{split}_{name}.jsonl", rows)


def load(out: Path, split: str, name: str) -> list[dict]:
    return read_jsonl(out / f"{split}_{name}.jsonl")


def summarize(scored: dict[str, dict[str, list[dict]]], task: Task) -> dict:
    """{split: {variant: metrics with bootstrap intervals}} of every scored variant."""
    return {split: {name: metrics.aggregate(rows, metrics.metric_names(task)) for name, rows in variants.items()}
            for split, variants in scored.items()}


def comparisons(variants) -> dict[str, tuple[str, str]]:
    """Every comparison the report makes: name -> (reference, candidate); each fine-tune against its own base,
    few-shot prompting, and the two label baselines; few-shot against zero-shot."""
    out = {ft: (base, ft) for ft, (base, _) in metrics.PAIRS.items()}
    if metrics.FEW_SHOT in variants:
        out[metrics.FEW_SHOT] = ("base", metrics.FEW_SHOT)
        out |= {f"{ft}_vs_fewshot": (metrics.FEW_SHOT, ft) for ft in metrics.PAIRS}
    for kind in metrics.BASELINES:
        if kind in variants:
            out |= {f"{ft}_vs_{kind}": (kind, ft) for ft in metrics.PAIRS}
    return out


def deltas(scored: dict[str, dict[str, list[dict]]], summary: dict, task: Task) -> dict:
    """{split: {comparison: paired deltas}}: each metric both sides have, its paired-bootstrap interval and flips."""
    out = {}
    for split, variants in scored.items():
        out[split] = {}
        for name, (reference, candidate) in comparisons(variants).items():
            d = metrics.compare(variants[reference], variants[candidate], metrics.metric_names(task))
            for key in ("severity_macro_f1", "latency_s"):
                if key in summary[split][reference] and key in summary[split][candidate]:
                    d[key] = round(summary[split][candidate][key] - summary[split][reference][key], 4)
            out[split][name] = d
    return out


def transfer_gap(summary: dict) -> dict:
    """How much of the classic baseline's accuracy on the generated test split is lost on real reports: when the
    generated labels ride on template phrases, a bag of words learns the phrases and the gap is large."""
    if "real" not in summary or "classic" not in summary.get("real", {}):
        return {}
    test, real = summary["test"]["classic"], summary["real"]["classic"]
    return {f"{m.removesuffix('_accuracy')}": round(test[m] - real[m], 4) for m in metrics.LABEL_METRICS}
