"""python stages/generate_data.py

Writes data/generated/rows.jsonl: incident reports with their gold triage JSON (../shared/triage-spec.md),
one row per line, from the backend named by params.yaml `generate_data.backend`:
  template   seeded and offline (ftlab/data/synth.py): same params, same bytes.
  anthropic  Claude through the Messages API (ftlab/data/claude.py, prompts and checks in ftlab/data/claude_data.py),
             `anthropic.mode` generate (Claude writes reports for every severity x category cell and
             style, and triages them) or label (Claude triages the reports in `anthropic.reports`).
             Needs ANTHROPIC_API_KEY; the SDK honours ANTHROPIC_BASE_URL. Every answer is cached in
             data/claude_cache (a persist out), so a re-run, or a run after a crash or Ctrl-C, sends only
             the requests that have no answer yet.
Rows that fail validation go to data/generated/quarantine.jsonl with the reason. Counts, and for
anthropic the token usage and estimated cost, go to metrics/generate_data.json.
"""
from collections import Counter
from pathlib import Path

from ftlab import contracts, params, stage, triage
from ftlab.data import claude, claude_data, synth
from ftlab.io import DataFileError, write_json, write_jsonl

OUT, QUARANTINE, CACHE = contracts.GENERATED, contracts.QUARANTINE, contracts.CLAUDE_CACHE


def anthropic_rows(p) -> tuple[list[dict], list[dict], dict]:
    """(rows, quarantined rows, token use and cost) from Claude; every answer is cached in CACHE."""
    a = p.anthropic
    try:
        key = claude.api_key()  # before any work: a missing key is one line, not a failed request
        if a.mode == "generate":
            jobs = claude_data.generate_requests(p.n_rows, a.rows_per_request, p.seed, a.model, a.max_tokens)
        else:
            reports = claude_data.read_reports(Path(a.reports), p.n_rows)
            jobs = claude_data.label_requests(reports, a.model, a.max_tokens)
        client = claude.make_client(key, max_retries=a.max_retries, timeout_s=a.timeout_s)
        cache = claude.Cache(CACHE)
        print(f"{a.mode}: {len(jobs)} requests to {a.model}, {a.concurrency} at a time; "
              "answers already in data/claude_cache are not sent again", flush=True)
        result = claude.run(client, [request for request, _ in jobs], cache, concurrency=a.concurrency,
                            progress=lambda done, todo: print(f"  {done}/{todo} sent and answered", flush=True))
    except (claude.ClaudeError, DataFileError) as e:
        raise stage.StageError(claude.redact(str(e))) from None

    # Every answer there is, so that a run that cannot finish still says how many rows it has.
    rows, quarantine, source = [], [], f"anthropic:{a.model}"
    for request, asked in jobs:
        if request.key in result.answers:
            if a.mode == "generate":
                kept, bad = claude_data.parse_generated(result.answers[request.key], asked, p.seed, source)
            else:
                row, entry = claude_data.parse_labelled(result.answers[request.key], asked, source)
                kept, bad = [row] if row else [], [entry] if entry else []
            rows += kept
            quarantine += bad
    if not result.complete:
        why = "interrupted" if result.interrupted else f"{len(result.errors)} failed: {result.errors[0]}"
        total = len(result.answers) + result.missing  # distinct requests (two equal reports: one request)
        raise stage.StageError(f"{result.missing} of {total} requests have no answer ({why}). The cache holds "
                               f"answers to {len(result.answers)} requests, {len(rows)} valid rows; run the stage "
                               "again to send only the missing requests", code=130 if result.interrupted else 1)
    prices = claude.Prices(**a.usd_per_mtok.model_dump())
    usage = {**claude.Usage.of(result.answers.values()).metrics(prices),  # the whole data set's
             "requests_cached": result.cached,
             **result.sent.metrics(prices, suffix="_this_run")}  # what this run sent and paid for
    return rows, quarantine, usage


def main() -> None:
    p = params.load("generate_data")
    if p.backend == "template":
        rows, quarantine, usage = synth.generate(p.n_rows, p.seed), [], {}
        CACHE.mkdir(parents=True, exist_ok=True)  # an out of the stage whichever the backend
    else:
        rows, quarantine, usage = anthropic_rows(p)

    bad = [(r["id"], errors) for r in rows if (errors := triage.validate(r["triage"]))]
    if bad:  # a bug, never user input: refuse to write rows that break the spec
        raise stage.StageError(f"backend {p.backend} produced {len(bad)} rows that break the spec, e.g. {bad[0]}")

    write_jsonl(OUT, rows)
    write_jsonl(QUARANTINE, quarantine)
    write_json(contracts.metrics_file("generate_data"), {
        "rows": len(rows),
        "rows_quarantined": len(quarantine),
        **usage,
        "severity": dict(sorted(Counter(r["triage"]["severity"] for r in rows).items())),
        "category": dict(sorted(Counter(r["triage"]["category"] for r in rows).items())),
        "style": dict(sorted(Counter(r.get("style", "unknown") for r in rows).items())),
    })
    print(f"wrote {len(rows)} rows to {OUT}" + (f", {len(quarantine)} quarantined to {QUARANTINE}" if quarantine else ""))


if __name__ == "__main__":
    stage.run(main)
