"""Scoring a model's triage replies against gold labels, per ../shared/triage-spec.md.

Per row: `format_conformance` (the reply is exactly one spec-valid JSON object), `parseable` (a JSON
object can be found in it at all), label accuracy on whatever object was found (so format and
judgement are measured apart), `services_f1` against gold, and `faithfulness`: the offline judge.
"""
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
    """The per-row scores of one reply."""
    found = triage.parse_lenient(output)
    obj = found or {}
    return {
        "format_conformance": float(triage.parse_strict(output) is not None),
        "parseable": float(found is not None),
        "severity_accuracy": float(obj.get("severity") == gold["severity"]),
        "category_accuracy": float(obj.get("category") == gold["category"]),
        "services_f1": services_f1(obj.get("affected_services"), gold["affected_services"]),
        "faithfulness": faithfulness(obj, report) if found else 0.0,
    }


METRICS = ("format_conformance", "parseable", "severity_accuracy", "category_accuracy", "services_f1", "faithfulness")


def aggregate(scored: list[dict]) -> dict:
    """Means over rows of every metric, plus mean latency where rows carry `latency_s`."""
    if not scored:
        return {}
    out = {m: round(sum(r[m] for r in scored) / len(scored), 4) for m in METRICS}
    if all("latency_s" in r for r in scored):
        out["latency_s"] = round(sum(r["latency_s"] for r in scored) / len(scored), 3)
    out["rows"] = len(scored)
    return out
