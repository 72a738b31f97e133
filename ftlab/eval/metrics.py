"""Scoring a model's triage replies against gold labels, per ../shared/triage-spec.md.

Per row: `format_conformance` (the reply is exactly one spec-valid JSON object), `parseable` (a JSON
object can be found in it at all), label accuracy on whatever object was found (so format and
judgement are measured apart), `services_f1` against gold, and `faithfulness`: the offline judge.
"""
import random
import re

from ftlab import triage

# Words that carry no fact: a summary may use them without the report doing so.
_STOPWORDS = set("""a an and are as at be been by for from has have in is it its of on or that the this to was were
which with after before since about into over per due while than then there their they not no but all any some
our we us""".split())


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9._%:/-]*", text.lower()) if w not in _STOPWORDS and len(w) > 1}


def faithfulness(obj: dict, report: str) -> float:
    """Offline, deterministic judge in [0, 1]: the share of affected_services named in the report,
    averaged with the share of the summary's content words that the report contains."""
    lowered = report.lower()
    services = [s for s in obj.get("affected_services") or [] if isinstance(s, str)]
    service_score = sum(s.lower() in lowered for s in services) / len(services) if services else 0.0
    summary = obj.get("summary")
    words = _content_words(summary) if isinstance(summary, str) else set()
    summary_score = len(words & _content_words(report)) / len(words) if words else 0.0
    return (service_score + summary_score) / 2


def services_f1(predicted, gold: list[str]) -> float:
    if not isinstance(predicted, list):
        return 0.0
    p = {s.strip().lower() for s in predicted if isinstance(s, str)}
    g = {s.strip().lower() for s in gold}
    hits = len(p & g)
    return 2 * hits / (len(p) + len(g)) if p and g else 0.0


def score_row(output: str, gold: dict, report: str) -> dict:
    """The per-row scores of one reply. Where more than one label is defensible, `gold` may list the
    accepted ones as `severity_ok` / `category_ok`; `severity` / `category` is then the preferred one, which
    `*_exact` scores alone. A label `gold` lacks (a labels file with only some fields) gives no score."""
    found = triage.parse_lenient(output)
    obj = found or {}
    # The decision is scored from what the reply wrote, even when it ran out of tokens before its object closed
    # (it is then neither conformant nor parseable, and has no services or faithfulness to score).
    labels = obj if found is not None else triage.labels_in(output)
    row = {"format_conformance": float(triage.parse_strict(output) is not None), "parseable": float(found is not None)}
    if "severity" in gold:
        severity = labels.get("severity") if labels.get("severity") in triage.SEVERITIES else None
        row |= {"severity_gold": gold["severity"], "severity_pred": severity,
                "severity_accuracy": float(severity in gold.get("severity_ok", [gold["severity"]])),
                "severity_exact": float(severity == gold["severity"])}
    if "category" in gold:
        row |= {"category_accuracy": float(labels.get("category") in gold.get("category_ok", [gold["category"]])),
                "category_exact": float(labels.get("category") == gold["category"])}
    if "affected_services" in gold:
        row["services_f1"] = services_f1(obj.get("affected_services"), gold["affected_services"])
    row["faithfulness"] = faithfulness(obj, report) if found else 0.0
    return row


def score_labels(predicted: dict, gold: dict) -> dict:
    """The label scores of a prediction that is labels only (a baseline classifier's {severity, category})."""
    row = {}
    if "severity" in gold:
        row |= {"severity_gold": gold["severity"], "severity_pred": predicted["severity"],
                "severity_accuracy": float(predicted["severity"] in gold.get("severity_ok", [gold["severity"]])),
                "severity_exact": float(predicted["severity"] == gold["severity"])}
    if "category" in gold:
        row |= {"category_accuracy": float(predicted["category"] in gold.get("category_ok", [gold["category"]])),
                "category_exact": float(predicted["category"] == gold["category"])}
    return row


# Each fine-tune -> (the name of its base's block in metrics/eval.json, the stage that trained it).
PAIRS = {"lora": ("base", "train_lora"), "qlora": ("qlora_base", "train_qlora")}
# The prompting baseline: the LoRA base (full precision) with k training examples in its prompt.
FEW_SHOT = "base_fewshot"

METRICS = ("format_conformance", "parseable", "severity_accuracy", "category_accuracy", "services_f1", "faithfulness")
# The label metrics a classic baseline has too (ftlab/eval/baselines.py), and the preferred label alone (for a
# split whose labels accept two answers on some rows, such as the real reports).
LABEL_METRICS = ("severity_accuracy", "category_accuracy")
EXACT_METRICS = ("severity_exact", "category_exact")
# Per-row metrics of any data set, triage or not (ftlab.eval.generation.answer_scores); lower is better.
GENERIC_METRICS = ("answer_loss",)
# Teacher-forced, on rows with a reference answer: the summed loss of each label's value tokens (lower is better).
LABEL_LOSSES = ("severity_label_loss", "category_label_loss")
# The reference points of the label fields (ftlab/eval/baselines.py).
BASELINES = ("majority", "classic")
# Per-question metrics of the forgetting probe (ftlab/eval/probe.py).
PROBE_METRICS = ("probe_answered", "probe_triage_json")
LOWER_IS_BETTER = {"answer_loss", "probe_triage_json", "general_perplexity", *LABEL_LOSSES}


def metric_names(task) -> tuple[str, ...]:
    """What a task's replies are scored on (ftlab.tasks): label metrics where the rows carry gold labels."""
    return (*METRICS, *EXACT_METRICS, *GENERIC_METRICS, *LABEL_LOSSES) if task.labelled else GENERIC_METRICS


def baseline_names(task) -> tuple[str, ...]:
    """The label baselines fitted beside a task's models: only where labels can be fitted from the report text."""
    return BASELINES if task.labelled else ()


def severity_macro_f1(scored: list[dict]) -> float:
    """Macro-F1 over the four severities, a missing or invalid prediction counting as wrong; a
    severity neither in gold nor predicted is left out of the mean."""
    f1s = []
    for sev in triage.SEVERITIES:
        tp = sum(r["severity_gold"] == sev and r["severity_pred"] == sev for r in scored)
        gold = sum(r["severity_gold"] == sev for r in scored)
        pred = sum(r["severity_pred"] == sev for r in scored)
        if gold or pred:
            f1s.append(2 * tp / (gold + pred))
    return sum(f1s) / len(f1s) if f1s else 0.0


def severity_confusion(scored: list[dict]) -> list[list]:
    """Rows gold SEV1..SEV4, columns predicted SEV1..SEV4 and `none` (no valid severity found)."""
    columns = (*triage.SEVERITIES, None)
    return [[sum(r["severity_gold"] == g and r["severity_pred"] == p for r in scored) for p in columns]
            for g in triage.SEVERITIES]


def aggregate(scored: list[dict], names: tuple[str, ...] = METRICS) -> dict:
    """Mean and bootstrap 95% interval of every metric over rows, plus mean latency where rows carry it."""
    if not scored:
        return {}
    out = {}
    for m in names:
        if all(m in r for r in scored):  # a metric the rows lack (an unlabelled field) is left out, not zero
            out.update(_mean_and_interval(m, [r[m] for r in scored]))
    if all("severity_gold" in r for r in scored) and "severity_accuracy" in names:
        out["severity_macro_f1"] = round(severity_macro_f1(scored), 4)
    if all("latency_s" in r for r in scored):
        out["latency_s"] = round(sum(r["latency_s"] for r in scored) / len(scored), 3)
    out["rows"] = len(scored)
    return out


def _percentile_interval(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return samples[int(0.025 * len(samples))], samples[int(0.975 * len(samples)) - 1]


def bootstrap_interval(values: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of `values` (rows resampled with replacement)."""
    rng, n = random.Random(seed), len(values)
    return _percentile_interval([sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples)])


def _mean_and_interval(name: str, values: list[float]) -> dict:
    low, high = bootstrap_interval(values)
    return {name: round(sum(values) / len(values), 4), f"{name}_ci_low": round(low, 4), f"{name}_ci_high": round(high, 4)}


def compare(base: list[dict], tuned: list[dict], names: tuple[str, ...] = METRICS) -> dict:
    """Fine-tuned minus base on the same rows: each metric's delta, its paired-bootstrap 95% interval
    (the same resampled rows for both models), and for 0/1 metrics the rows that flipped."""
    assert [r["id"] for r in base] == [r["id"] for r in tuned], "compare needs the same rows in the same order"
    out = {}
    for m in names:
        if not all(m in r for r in base + tuned):
            continue
        out.update(_mean_and_interval(m, [t[m] - b[m] for b, t in zip(base, tuned)]))
        if all(r[m] in (0.0, 1.0) for r in base + tuned):
            out[f"{m}_wrong_to_right"] = sum(b[m] == 0 and t[m] == 1 for b, t in zip(base, tuned))
            out[f"{m}_right_to_wrong"] = sum(b[m] == 1 and t[m] == 0 for b, t in zip(base, tuned))
    return out


def row_total(row: dict) -> float:
    """One number per reply for ranking wins and losses: the sum of its triage metrics, or for a
    data set without them, minus the loss of the reference answer."""
    return sum(row[m] for m in METRICS) if METRICS[0] in row else -row["answer_loss"]
