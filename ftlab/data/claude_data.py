"""The `anthropic` backend of generate_data: the prompts it sends and how it checks every reply.

generate mode: row slot i asks for severity x category cell i % 16 and style (i // 16 + i) % 7 of
    ftlab.data.synth.STYLES, so every 112 consecutive slots hold each (cell, style) pair once: the set is
    balanced by construction, not by filtering. Request j asks for slots j*k .. j*k+k-1 (k =
    rows_per_request) in one reply, {"rows": [{"n", "report", "triage"}, ...]}. A request depends only
    on (j, k, seed, model, max_tokens), so growing n_rows re-uses every cached answer and sends only
    the new requests; a new seed asks for new reports.
label mode: one request per user-supplied report, with the spec's full rubric as the system prompt
    (ftlab.triage.SYSTEM_PROMPT, user: the report); the answer is the training target, which prepare
    then pairs with whichever prompt prepare.prompt names.

Every row is validated (ftlab.triage) and kept or quarantined with its reason, never dropped:
    rows       {"id", "style", "severity", "category", "report", "triage", "source"} (the shape of the
               template backend's rows, which prepare reads)
    quarantine {"id", "request", "reason", and "row" (the offending row) or "reply" (the raw text)}
"""
import json
import random
from pathlib import Path

from ftlab import triage
from ftlab.data import synth
from ftlab.data.claude import Request, reply_text, stop_reason
from ftlab.io import DataFileError, read_jsonl

CELLS = tuple((s, c) for s in triage.SEVERITIES for c in triage.CATEGORIES)

STYLE_HINTS = {
    "alert": "a monitoring alert as the tool sends it (Alertmanager, Datadog, PagerDuty, CloudWatch, Grafana or a "
             "security tool): labels, values, thresholds, maybe a runbook link",
    "chat": "a Slack thread: several engineers, lowercase, abbreviations, typos, messages with times",
    "ticket": "a support ticket (Zendesk from a customer or Jira from an engineer), whose stated priority may "
              "disagree with the real impact",
    "postmortem": "a postmortem excerpt in the past tense: timeline, impact, root cause",
    "status_page": "a status-page update, public (customer voice, component names) or internal",
    "email": "an e-mail: a customer escalation or an internal note",
    "issue": "a GitHub or GitLab issue from a user or a maintainer: title, what they ran, what broke, versions",
}

GENERATE_SYSTEM = f"""You write realistic incident reports for training a small model to triage them, and triage each one exactly as the rubric below says.

The rubric (the small model gets these same rules):
{triage.SYSTEM_PROMPT}

Rules for the reports:
- Each report is what an on-call engineer would paste: one to three paragraphs, in the requested style, with concrete service names, numbers, times and regions.
- The requested severity and category must be the correct triage of the facts you write: write the facts that make it so.
- Mix in the rubric's hard cases: a scary cause with no customer impact, a tiny change with broad impact, services named as healthy or unrelated (never list those as affected), two categories at once (the precedence rule decides), a stated priority or tone that disagrees with the real impact, numbers near the severity thresholds.
- affected_services: 1-5 names copied exactly as they appear in the report. summary: only facts stated in the report. next_action: one concrete step.
- Vary companies, products, services, people and wording across reports; no two reports alike.

Reply with one JSON object only, no prose and no Markdown fences:
{{"rows": [{{"n": <the row number asked for>, "report": "<the report>", "triage": {{"severity": ..., "category": ..., "affected_services": [...], "summary": ..., "next_action": ...}}}}, ...]}}"""


def slot(i: int) -> dict:
    severity, category = CELLS[i % len(CELLS)]
    style = synth.STYLES[(i // len(CELLS) + i) % len(synth.STYLES)]
    return {"n": i, "severity": severity, "category": category, "style": style}


def generate_requests(n_rows: int, rows_per_request: int, seed: int, model: str, max_tokens: int):
    """[(Request, [slot, ...]), ...] covering slots 0 .. n_rows-1."""
    out = []
    for j, start in enumerate(range(0, n_rows, rows_per_request)):
        asked = [slot(i) for i in range(start, min(start + rows_per_request, n_rows))]
        # A per-request setting (drawn from seed and j only) so that requests asking for the same
        # cells and styles still differ in what they describe.
        r = random.Random(f"{seed}:{j}")
        setting = f"{r.choice(synth.COMPANIES)[0]}, in {r.choice(synth.REGIONS)}"
        lines = "\n".join(f"- row {s['n']}: {s['severity']}, {s['category']}, {s['style']}: {STYLE_HINTS[s['style']]}"
                          for s in asked)
        prompt = (f"Batch {seed}-{j}. Write {len(asked)} incident reports, one per row below, each with its triage. "
                  f"Set most of them at {setting}.\n{lines}\n"
                  f"The rows as JSON: {json.dumps(asked)}")
        request = Request(model=model, max_tokens=max_tokens, system=GENERATE_SYSTEM,
                          messages=[{"role": "user", "content": prompt}])
        out.append((request, asked))
    return out


def read_reports(path: Path, limit: int) -> list[dict]:
    """The first `limit` reports of a JSONL of {"report": str, "id"?: str, "style"?: str}."""
    rows = read_jsonl(path)
    if not rows:
        raise DataFileError(f"{path}: no reports (label mode needs one {{\"report\": ...}} per line)")
    out, ids = [], set()
    for number, row in enumerate(rows[:limit], 1):
        report, rid = row.get("report"), row.get("id", f"label-{number:05d}")
        if not isinstance(report, str) or not report.strip():
            raise DataFileError(f"{path}: report {number}: expected a non-empty \"report\" string")
        if not isinstance(rid, str) or not rid or rid in ids:
            raise DataFileError(f"{path}: report {number}: \"id\" must be a unique non-empty string, got {rid!r}")
        ids.add(rid)
        out.append({"id": rid, "report": report, **({"style": row["style"]} if "style" in row else {})})
    return out


def label_requests(reports: list[dict], model: str, max_tokens: int):
    """[(Request, report row), ...]: the fine-tuned model's own prompt, one report per request."""
    return [(Request(model=model, max_tokens=max_tokens, system=triage.SYSTEM_PROMPT,
                     messages=[{"role": "user", "content": row["report"]}]), row) for row in reports]


def _cut(record) -> str:
    return " (the reply was cut at max_tokens: raise generate_data.anthropic.max_tokens)" \
        if stop_reason(record) == "max_tokens" else ""


def _not_named(services, report: str) -> list:
    folded = report.lower()
    return [s for s in services if s.strip().lower() not in folded]


def check_triage(gold, report: str, want=None) -> str:
    """Why a triage answer cannot be a training target, or '' when it can."""
    errors = triage.validate(gold)
    if errors:
        return "triage breaks the spec: " + "; ".join(errors)
    if want and (gold["severity"], gold["category"]) != want:
        return f"asked for {want[0]}/{want[1]}, the reply labels it {gold['severity']}/{gold['category']}"
    missing = _not_named(gold["affected_services"], report)
    if missing:
        return f"affected_services not named in the report: {missing}"
    return ""


def parse_generated(record: dict, asked: list[dict], seed: int, source: str):
    """(rows, quarantine) from one generate-mode answer."""
    text, key = reply_text(record), record["key"]
    ids = {s["n"]: f"claude-{seed}-{s['n']:05d}" for s in asked}
    try:
        reply = json.loads(text)
    except json.JSONDecodeError:
        reply = triage.parse_lenient(text)  # fenced or wrapped in prose: still checked row by row
    if not isinstance(reply, dict) or not isinstance(reply.get("rows"), list):
        reason = "reply is not JSON" if reply is None else 'reply has no "rows" list'
        return [], [{"id": ids[s["n"]], "request": key, "reason": reason + _cut(record), "reply": text}
                    for s in asked]
    rows, quarantine, seen = [], [], set()
    by_n = {s["n"]: s for s in asked}
    for item in reply["rows"]:
        n = item.get("n") if isinstance(item, dict) else None
        s = by_n.get(n) if isinstance(n, int) and not isinstance(n, bool) else None
        if s is None or n in seen:
            what = "a row number asked twice" if n in seen else "a row that was not asked for"
            quarantine.append({"id": None, "request": key, "reason": f"{what} (n={n!r})", "row": item})
            continue
        seen.add(n)
        report = item.get("report")
        if not isinstance(report, str) or len(report.strip()) < 20:
            reason = "report must be a string of at least 20 characters"
        elif set(item) - {"n", "report", "triage"}:
            reason = f"unknown keys {sorted(set(item) - {'n', 'report', 'triage'})}"
        else:
            reason = check_triage(item.get("triage"), report, (s["severity"], s["category"]))
        if reason:
            quarantine.append({"id": ids[n], "request": key, "reason": reason, "row": item})
            continue
        gold = item["triage"]
        rows.append({"id": ids[n], "style": s["style"], "severity": gold["severity"], "category": gold["category"],
                     "report": report.strip(), "triage": {k: gold[k] for k in triage.KEYS}, "source": source})
    for n in by_n.keys() - seen:
        quarantine.append({"id": ids[n], "request": key, "reason": "row missing from the reply" + _cut(record),
                           "reply": None})
    return rows, quarantine


def parse_labelled(record: dict, report_row: dict, source: str):
    """(row, None) or (None, quarantine entry) from one label-mode answer."""
    text = reply_text(record)
    # The strict reading first; a triage wrapped in fences or prose is as good a target (it is
    # re-serialised by triage.dumps in prepare), so it is kept when it passes the same checks.
    gold = triage.parse_strict(text) or triage.parse_lenient(text)
    reason = "reply is not JSON" + _cut(record) if gold is None else check_triage(gold, report_row["report"])
    entry = {"id": report_row["id"], "request": record["key"]}
    if reason:
        return None, {**entry, "reason": reason, "reply": text}
    row = {"id": report_row["id"], "severity": gold["severity"], "category": gold["category"],
           "report": report_row["report"], "triage": {k: gold[k] for k in triage.KEYS}, "source": source}
    if "style" in report_row:
        row["style"] = report_row["style"]
    return row, None
