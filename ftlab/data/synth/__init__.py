"""The `template` backend of the generate_data stage: synthetic incident reports with gold triage.

    generate(n_rows, seed) -> [{"id", "style", "severity", "category", "report", "triage",
                                "hard_cases", "distractors"}, ...]

`triage` is the gold answer of ../shared/triage-spec.md (it passes ftlab.triage.validate); `severity`
and `category` repeat its labels. Pure stdlib and a function of (n_rows, seed) only: every draw goes
through one random.Random(seed), nothing depends on time, hash() or set order.

How a row is made
  1. Cell and style: rows cycle over the 16 severity x category cells (counts differ by at most 1); each
     pass over the cells takes the next style of a shuffled render.STYLE_CYCLE.
  2. Facts (incidents.py): a failure mode of the category (fails outright, slower, exposed, lost) on a
     subject drawn whatever the severity, with the impact stated for the severity (how many users, how
     core, money or data at stake, a workaround, no customer impact at all).
  3. Report (render.py): the facts framed as an alert, chat message, ticket, issue, status update,
     postmortem or e-mail; the symptom and the impact are always in it.
  4. Gold triage: affected_services are the subject's names as the report writes them; summary and
     next_action come with the facts, in the report's tense.
Where the files are: vocab.py (names and numbers), incidents.py (what happened and how much it matters),
render.py (the styles). Extending: a failure mode is one function in incidents.py listed in MODES with
the severities whose impact it can state; a style is one render_* function listed in RENDERERS.
"""
import random

from ftlab.data.synth.incidents import incident
from ftlab.data.synth.render import RENDERERS, STYLE_CYCLE, STYLES
from ftlab.data.synth.vocab import COMPANIES, REGIONS, cap, hm, tense
from ftlab.triage import CATEGORIES, SEVERITIES, validate

__all__ = ["STYLES", "generate"]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _context(r, sev, cat):
    m0 = r.randint(0, 24 * 60 - 1)
    company, domain = r.choice(COMPANIES)
    return dict(sev=sev, cat=cat, m0=m0, t0=hm(m0), date=f"{r.randint(1, 28)} {r.choice(MONTHS)}",
                env=r.choice(("prod", "production")), region=r.choice(REGIONS), company=company, domain=domain)


def _as_written(name: str, report: str):
    """`name` as the report spells it (a sentence may capitalise "the iOS app"), or None if it is not there."""
    at = report.lower().find(name.lower())
    return report[at:at + len(name)] if at >= 0 else None


def _gold(facts, report, past, sev, cat):
    services = [w for s in facts["services"] if (w := _as_written(s, report) or (
        _as_written(facts["aka"][s], report) if s in facts["aka"] else None))]
    if facts.get("public") and tense(facts["public"], past) in report:  # a public status update: what it says
        summary = (tense(facts["public"], past).rstrip(".") + "; " + tense(facts["impact"], past)).strip().rstrip(".")
    else:
        summary = tense(facts["summary"], past).strip().rstrip(".")
        if facts.get("cause") and facts.get("cause_short") and tense(facts["cause"], past) in report:
            summary += f", after {facts['cause_short']}"  # only a cause the report states
    for name, public in facts["aka"].items():  # a status page names "checkout", not "checkout-api": so does its summary
        if _as_written(name, report) is None and _as_written(public, report) is not None:
            summary = summary.replace(name, public)
    summary = cap(summary) + "."
    if len(summary) > 300:
        summary = summary[:296].rsplit(" ", 1)[0] + "..."
    return {"severity": sev, "category": cat, "affected_services": services or facts["services"][:1],
            "summary": summary, "next_action": facts["action"][:200]}


def _row(r, i, seed, sev, cat, style):
    c = _context(r, sev, cat)
    facts = incident(r, sev, cat, c)
    text, tags, past, distractor = RENDERERS[style](r, facts, c)
    gold = _gold(facts, text, past, sev, cat)
    problems = validate(gold) + [f"{s!r} not in the report" for s in gold["affected_services"] if s not in text]
    problems += [] if len(gold["affected_services"]) == len({s.lower() for s in gold["affected_services"]}) else ["a service twice"]
    if problems:  # a generator bug, never input: refuse to write a row that breaks the spec
        raise ValueError(f"template row {i} ({sev}, {cat}, {style}): {problems}")
    return {"id": f"tpl-{seed}-{i:05d}", "style": style, "severity": sev, "category": cat, "report": text.strip(),
            "triage": gold, "hard_cases": sorted(set(facts["tags"] + tags)), "distractors": [distractor] if distractor else []}


def generate(n_rows: int, seed: int) -> list[dict]:
    r = random.Random(seed)
    cells = [(s, c) for s in SEVERITIES for c in CATEGORIES]
    styles = list(STYLE_CYCLE)
    r.shuffle(styles)
    rows = []
    for i in range(n_rows):
        sev, cat = cells[i % len(cells)]
        style = styles[(i // len(cells)) % len(styles)]
        rows.append(_row(r, i, seed, sev, cat, style))
    r.shuffle(rows)
    return rows
