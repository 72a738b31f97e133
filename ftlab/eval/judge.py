"""The `faithfulness` judge of evaluate, per params.yaml `evaluate.judge.backend`:

  offline    ftlab.eval.metrics.faithfulness: deterministic, no network (the default).
  anthropic  Claude scores each reply 1-5 against RUBRIC (below), normalised to [0, 1] as (s - 1) / 4 so
             it sits on the offline judge's scale. The model is pinned in params; every verdict is cached
             (ftlab/data/claude.py: one file per request, named by the hash of model, rubric, report, reply and
             max_tokens) in a directory the stage keeps as a persist out, so a re-run sends nothing.

    judge.check_key(p.judge)                               # at the stage's start: a missing key, one line
    faith, judge_metrics = judge.scores(p.judge, [(report, triage.parse_lenient(output)), ...], CACHE)

A row whose reply has no JSON object (None), or whose object has neither `summary` nor
`affected_services`, scores 0 without a request: there is nothing to judge (the offline judge gives
such rows 0 as well).

An invalid verdict (not one JSON object, score not an integer 1-5, no reason) fails the run with
JudgeError, never a silent default and never a row left out (both would bias the comparison of two
models on the same rows): the error names the row and the fault, the invalid verdicts are removed
from the cache so the next run asks for them again, and every valid verdict stays cached.

The key rules are ftlab/data/claude.py's: ANTHROPIC_API_KEY only, never in any output, log, cache file or
exception message.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ftlab.data import claude
from ftlab.eval import metrics

# What the judge sees of a reply, in this order. next_action is advice, not a statement of fact; the
# rubric judges it only for resting on facts the report does not give.
FIELDS = ("summary", "affected_services", "next_action")

RUBRIC = """You judge how faithful an incident-triage reply is to the incident report it was written from. Faithful means: every fact the reply states can be found in the report. Judge faithfulness only: not whether the severity or category is right, not style, not length.

You get the report inside <report> tags and the reply's fields inside <reply> tags, as JSON:
- summary: must state only facts from the report (services, symptoms, numbers, times, regions, causes, impact). A fact is invented when the report does not state it, and wrong when the report contradicts it. A paraphrase or a fair generalisation of what the report says is neither.
- affected_services: each name must appear in the report as a service with a problem. A name that is not in the report is invented; a service that the report names as healthy or unrelated, listed as affected, contradicts the report. Small spelling differences of a name that is in the report (case, spaces, hyphens) do not count.
- next_action: a recommended step, not a statement of fact. It is fine when generic ("check the error dashboards") or about things the report mentions; it counts as invented when it rests on something the report does not say (rolling back a deploy the report never mentions).
A field given as null was left out of the reply: it invents nothing, but a reply that leaves out summary or affected_services, or gives one of them as something other than text or a list of names, scores at most 3.

Scores:
5: every fact in summary and every affected service is in the report; nothing invented, nothing contradicted.
4: faithful apart from one minor detail the report does not give (an imprecise number, a guessed time, a plausible but unstated cause) that does not change the picture.
3: mostly faithful, with one substantive invented or wrong fact (a service not in the report or named there as healthy, a wrong impact, a number that matters and is wrong, a cause the report does not give), or summary or affected_services left out.
2: several invented or wrong facts; only part of the reply is supported by the report.
1: mostly invented, contradicting the report, or unrelated to it.

Reply with one JSON object only, no prose and no Markdown fences:
{"score": <an integer from 1 to 5>, "reason": "<one sentence: what is invented or contradicted, or that nothing is>"}"""


class JudgeError(Exception):
    """One line for the stage to print as `error: ...` (exit non-zero; 130 when `interrupted`). Its
    message never contains the key."""

    def __init__(self, message: str, interrupted: bool = False):
        super().__init__(claude.redact(message))
        self.interrupted = interrupted


class VerdictError(ValueError):
    """Why a judge reply is not a valid verdict."""


@dataclass
class Verdict:
    score: int  # 1-5
    reason: str

    @property
    def normalised(self) -> float:
        return (self.score - 1) / 4


@dataclass
class Judgement:
    scores: list[float]            # per row, input order, in [0, 1]
    reasons: list[Optional[str]]   # the judge's one sentence per row; None where no request was made (offline too)
    metrics: dict                  # flat: see judge()


def parse_verdict(text: str) -> Verdict:
    """The verdict in a judge reply: exactly one JSON object (a single ```json fence around it is
    tolerated) with an integer `score` 1-5 and a non-empty string `reason`; other keys are ignored."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.S)
    try:
        obj = json.loads(fenced.group(1) if fenced else body)
    except json.JSONDecodeError:
        raise VerdictError(f"reply is not one JSON object: {_excerpt(text)}") from None
    if not isinstance(obj, dict):
        raise VerdictError(f"reply is JSON but not an object: {_excerpt(text)}")
    score, reason = obj.get("score"), obj.get("reason")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise VerdictError(f"score must be an integer from 1 to 5, got {score!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise VerdictError(f"reason must be a non-empty string, got {reason!r}")
    return Verdict(score, reason.strip())


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def _has_content(value) -> bool:
    return value is not None and value != "" and value != [] and value != {}


# <report>, </REPLY >, < /report x="1"> ...: any spelling of our two tags that a model might read as one
_TAG = re.compile(r"<\s*/?\s*(report|reply)\b[^>]*>", re.IGNORECASE)


def request_for(a, report: str, obj: Optional[dict]) -> Optional[claude.Request]:
    """The judge request for one row (`a`: params.AnthropicJudge), or None when there is nothing to
    judge: no JSON object in the reply, or neither summary nor affected_services in it."""
    if not isinstance(obj, dict) or not (_has_content(obj.get("summary")) or _has_content(obj.get("affected_services"))):
        return None
    fields = {k: obj.get(k) for k in FIELDS}
    # The report is data, never instructions: a report that writes the tags itself (to close <report>
    # early and pose as the reply, say) has them escaped, so the judge sees one report and one reply.
    # Ordinary reports are sent unchanged (their cached verdicts stay valid).
    report = _TAG.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), report)
    content = (f"<report>\n{report}\n</report>\n"
               f"<reply>\n{json.dumps(fields, ensure_ascii=False, indent=1)}\n</reply>")
    return claude.Request(model=a.model, max_tokens=a.max_tokens, system=RUBRIC,
                          messages=[{"role": "user", "content": content}])


def check_key(p) -> None:
    """For the stage's start, before any work: JudgeError (one line) when backend is anthropic and
    ANTHROPIC_API_KEY is not set. Nothing for the offline backend."""
    if p.backend == "anthropic":
        _key()


def _key() -> str:
    try:
        return claude.api_key()
    except claude.MissingKeyError as e:
        raise JudgeError(f"evaluate.judge.backend is anthropic and {e} (or set evaluate.judge.backend: offline)") from None


def judge(p, items: list[tuple[str, Optional[dict]]], cache_dir: Path) -> Judgement:
    """Scores in [0, 1] for `items`, one (report, the reply's JSON object or None) per row.

    `p` is params.Judge. `cache_dir` is created for either backend (a DVC out must exist). Metrics
    (anthropic only; {} offline), all flat numbers:
      judge_rows_nothing_to_judge   rows scored 0 without a request
      judge_requests                distinct requests these rows needed (equal rows share one)
      judge_requests_cached         of those, answered from the cache
      judge_requests_this_run       of those, sent and answered now
      judge_input_tokens, judge_output_tokens, judge_cost_usd    of every verdict used, cached or not
      judge_cost_usd_this_run       what this call paid
    Raises JudgeError: missing key, a request that failed after the SDK's retries (or Ctrl-C), an
    invalid verdict, a hand-edited cache file."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    if p.backend == "offline":
        faith = [metrics.faithfulness(obj, report) if obj is not None else 0.0 for report, obj in items]
        return Judgement(faith, [None] * len(items), {})

    a = p.anthropic
    key = _key()  # before anything else
    requests = [request_for(a, report, obj) for report, obj in items]
    unique = list({r.key: r for r in requests if r is not None}.values())
    answers, cached, sent = {}, 0, claude.Usage()
    if unique:
        try:
            cache = claude.Cache(Path(cache_dir))
            client = claude.make_client(key, max_retries=a.max_retries, timeout_s=a.timeout_s)
            waiting = sum(cache.get(r.key) is None for r in unique)
            if waiting:
                print(f"judge: {len(unique)} verdicts from {a.model}, {waiting} to ask for ({a.concurrency} at a time), "
                    f"the others cached in {cache_dir}", flush=True)
            step = max(1, waiting // 10)
            result = claude.run(client, unique, cache, concurrency=a.concurrency, progress=lambda done, todo: (
                print(f"  judge: {done}/{todo} answered", flush=True) if done % step == 0 or done == todo else None))
        except claude.ClaudeError as e:
            raise JudgeError(f"judge: {e}") from None
        if not result.complete:
            why = "interrupted" if result.interrupted else f"{len(result.errors)} failed: {result.errors[0]}"
            raise JudgeError(
                f"judge: {result.missing} of {len(unique)} requests have no answer ({why}); the {len(result.answers)} "
                f"answered are cached in {cache_dir}, so a re-run asks only for the missing ones",
                interrupted=result.interrupted)
        answers, cached, sent = result.answers, result.cached, result.sent

    faith, reasons, bad = [], [], {}
    for row, request in enumerate(requests, 1):
        if request is None:
            faith.append(0.0)
            reasons.append(None)
            continue
        record = answers[request.key]
        try:
            verdict = parse_verdict(claude.reply_text(record))
        except VerdictError as e:
            cut = (" (the reply was cut at max_tokens: raise evaluate.judge.anthropic.max_tokens)"
                   if claude.stop_reason(record) == "max_tokens" else "")
            bad.setdefault(request.key, f"row {row}: {e}{cut}")
            faith.append(0.0)
            reasons.append(None)
            continue
        faith.append(verdict.normalised)
        reasons.append(verdict.reason)
    if bad:
        cache = claude.Cache(Path(cache_dir))
        for request_key in bad:  # so that the next run asks again instead of failing on the same answer
            cache.path(request_key).unlink(missing_ok=True)
        raise JudgeError(
            f"judge: {len(bad)} of {len(unique)} verdicts are not valid ({next(iter(bad.values()))}); "
            f"they were removed from {cache_dir} so that a re-run asks for them again, and the "
            f"{len(unique) - len(bad)} valid verdicts stay cached")

    prices = claude.Prices(**a.usd_per_mtok.model_dump())
    used = claude.Usage.of(answers[r.key] for r in unique)
    return Judgement(faith, reasons, {
        "judge_rows_nothing_to_judge": sum(r is None for r in requests),
        "judge_requests": len(unique),
        "judge_requests_cached": cached,
        "judge_requests_this_run": sent.requests,
        "judge_input_tokens": used.input_tokens,
        "judge_output_tokens": used.output_tokens,
        "judge_cost_usd": round(used.cost_usd(prices), 6),
        "judge_cost_usd_this_run": round(sent.cost_usd(prices), 6),
    })


def scores(p, items: list[tuple[str, Optional[dict]]], cache_dir: Path) -> tuple[list[float], dict]:
    """(per-row faithfulness in [0, 1] in input order, flat metrics): judge() without the reasons."""
    judged = judge(p, items, cache_dir)
    return judged.scores, judged.metrics
