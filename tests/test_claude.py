"""The Claude backend (ftlab/data/claude.py, ftlab/data/claude_data.py, stages/generate_data.py) against a fake
Messages API on 127.0.0.1 (tests/fake_anthropic.py), through the real `anthropic` client."""
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from ftlab import params, triage
from ftlab.data import claude, claude_data
from ftlab.io import read_jsonl, write_jsonl
from tests.conftest import REPO, repo_params
from tests.fake_anthropic import FakeAnthropic, default_reply, generated_row

KEY = "sk-ant-api03-FAKE-" + "x7Qz" * 20  # the shape of a real key, and unique enough to grep for


@pytest.fixture
def api():
    with FakeAnthropic(KEY) as server:
        yield server


def client(api, **kw):
    return claude.make_client(KEY, base_url=api.url, **{"max_retries": 3, "timeout_s": 5, **kw})


def one_request(text="checkout-api is down for everyone"):
    return claude.Request(model="claude-test", max_tokens=256, system=triage.SYSTEM_PROMPT,
                          messages=[{"role": "user", "content": text}])


# ---------------------------------------------------------------------------------------------------
# ftlab/data/claude.py


def test_cache_key_is_what_decides_the_answer():
    base = one_request()
    assert len(base.key) == 64 and base.key == one_request().key
    changed = [
        claude.Request(model="claude-other", max_tokens=256, system=base.system, messages=base.messages),
        claude.Request(model=base.model, max_tokens=257, system=base.system, messages=base.messages),
        claude.Request(model=base.model, max_tokens=256, system="other", messages=base.messages),
        one_request("checkout-api is slow"),
        claude.Request(model=base.model, max_tokens=256, system=base.system, messages=base.messages,
                       params={"stop_sequences": ["\n\n"]}),
    ]
    assert len({base.key, *(r.key for r in changed)}) == 6


def test_sdk_retries_429_500_and_a_dropped_connection_then_caches(api, tmp_path):
    api.faults += [{"drop": True}, {"status": 429, "retry_after": 0.4}, {"status": 500, "retry_after": 0.01}]
    cache = claude.Cache(tmp_path)
    start = time.monotonic()
    result = claude.run(client(api), [one_request()], cache, concurrency=2)
    assert result.complete and result.errors == [] and api.count == 4 and api.answered == 1
    assert time.monotonic() - start >= 0.4  # the SDK waited what retry-after said
    record = json.loads(cache.path(one_request().key).read_text())
    assert triage.parse_strict(claude.reply_text(record)) is not None
    assert result.sent.requests == 1 and result.sent.input_tokens > 100

    again = claude.run(client(api), [one_request(), one_request()], cache, concurrency=2)
    assert again.cached == 1 and again.sent.requests == 0 and api.count == 4  # never pays twice


def test_timeouts_are_retried_by_the_sdk(api, tmp_path):
    api.faults += [{"delay": 1.5}]
    result = claude.run(client(api, timeout_s=0.3), [one_request()], claude.Cache(tmp_path), concurrency=1)
    assert result.complete and api.count == 2


def test_a_failed_request_is_not_cached_and_stops_new_sends(api, tmp_path):
    api.faults += [{"html": True}]  # a proxy's error page with HTTP 200
    requests = [one_request(f"svc-{i} is down") for i in range(5)]
    cache = claude.Cache(tmp_path)
    result = claude.run(client(api), requests, cache, concurrency=1)
    assert not result.complete and result.missing == 5 and len(cache) == 0 and api.count == 1
    assert "HTTP 200 with a body that is not a message" in result.errors[0]
    result = claude.run(client(api), requests, cache, concurrency=1)
    assert result.complete and len(cache) == 5 and api.count == 6


def test_retries_exhausted_and_401_give_one_line_without_the_key(api, tmp_path):
    api.faults += [{"status": 500, "retry_after": 0.01}] * 2
    result = claude.run(client(api, max_retries=1), [one_request()], claude.Cache(tmp_path), concurrency=1)
    assert result.errors == ["HTTP 500 api_error: scripted fault"] and api.count == 2

    wrong = claude.make_client("sk-ant-wrong-key-0000", base_url=api.url, max_retries=3, timeout_s=5)
    result = claude.run(wrong, [one_request(f"svc-{i} is down") for i in range(4)], claude.Cache(tmp_path),
                        concurrency=1)
    assert api.count == 3  # a 401 is not retried, and nothing more is sent after it
    assert result.errors == ["HTTP 401 authentication_error: invalid x-api-key: [REDACTED]"]


def test_key_guard_redacts_logs_tracebacks_and_cache_files(tmp_path, caplog):
    claude.protect(KEY)
    with caplog.at_level(logging.DEBUG, logger="anthropic"):
        logging.getLogger("anthropic._base_client").debug("headers: %s", {"authorization": f"Bearer {KEY}"})
        try:
            raise RuntimeError(f"bad key {KEY}")
        except RuntimeError:
            logging.getLogger("httpx2").exception("failed")
    assert KEY not in caplog.text and "[REDACTED]" in caplog.text
    assert claude.describe(RuntimeError(f"bad key {KEY}")) == "RuntimeError: bad key [REDACTED]"
    cache = claude.Cache(tmp_path)
    cache.put("k", {"key": "k", "response": {"content": [{"type": "text", "text": KEY}]}})
    assert KEY not in cache.path("k").read_text()


def test_cache_rejects_a_hand_edited_file_and_clears_stale_temp_files(tmp_path):
    (tmp_path / ".abc.json.123.tmp").write_text("{half")
    cache = claude.Cache(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))
    cache.path("abc").write_text("{half")
    with pytest.raises(claude.ClaudeError, match="abc.json: not a valid cache file; delete it"):
        cache.get("abc")
    # valid JSON of this request whose response the readers would trip on (issue 30: tracebacks before)
    for response in ("text", {"content": "text"}, {"content": [{"type": "text", "text": 3}]},
                     {"content": [], "usage": {"input_tokens": "12"}}, {"content": [], "usage": [1]}):
        cache.path("abc").write_text(json.dumps({"key": "abc", "response": response}))
        with pytest.raises(claude.ClaudeError, match="abc.json: its response is damaged .*; delete it"):
            cache.get("abc")
    cache.path("abc").write_text(json.dumps({"key": "abc", "response": {"content": [{"type": "text", "text": "ok"}],
                                                                        "usage": {"input_tokens": 3}}}))
    assert claude.reply_text(cache.get("abc")) == "ok"


def test_usage_and_cost():
    records = [{"response": {"usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 50,
                                       "cache_creation_input_tokens": None}}}] * 3
    usage = claude.Usage.of(records)
    prices = claude.Prices(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3)
    assert usage.metrics(prices, "_run") == {
        "requests_run": 3, "input_tokens_run": 3000, "output_tokens_run": 600,
        "cache_creation_input_tokens_run": 0, "cache_read_input_tokens_run": 150,
        "cost_usd_run": round((3000 * 3.0 + 600 * 15.0 + 150 * 0.3) / 1e6, 6)}


def test_missing_key_is_one_line(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(claude.MissingKeyError, match="^ANTHROPIC_API_KEY is not set"):
        claude.api_key()


# ---------------------------------------------------------------------------------------------------
# params and request building


def anthropic_params(**changes) -> dict:
    data = repo_params()
    data["generate_data"]["backend"] = "anthropic"
    data["generate_data"]["anthropic"].update(changes)
    return data


def test_params_validate_both_backends():
    assert params.parse("generate_data", anthropic_params()).anthropic.model
    data = anthropic_params()
    del data["generate_data"]["anthropic"]
    with pytest.raises(params.ParamsError, match="backend: anthropic needs the `anthropic:` subsection"):
        params.parse("generate_data", data)
    data["generate_data"]["backend"] = "template"
    assert params.parse("generate_data", data).anthropic is None
    with pytest.raises(params.ParamsError, match="generate_data.anthropic.temperature: unknown key"):
        params.parse("generate_data", anthropic_params(temperature=0.7))
    with pytest.raises(params.ParamsError, match="generate_data.anthropic.concurrency: Input should be greater"):
        params.parse("generate_data", anthropic_params(concurrency=0))


def test_requests_are_stratified_over_cells_and_styles():
    jobs = claude_data.generate_requests(224, 8, 7, "m", 1000)
    slots = [s for _, asked in jobs for s in asked]
    assert len(jobs) == 28 and [s["n"] for s in slots] == list(range(224))
    pairs = [(s["severity"], s["category"], s["style"]) for s in slots]
    assert len(set(pairs)) == 16 * 7 and all(pairs.count(p) == 2 for p in set(pairs))
    assert len({r.key for r, _ in jobs}) == 28
    # growing the data set keeps every earlier request (cached answers are reused)
    assert [r.key for r, _ in claude_data.generate_requests(112, 8, 7, "m", 1000)] == [r.key for r, _ in jobs[:14]]
    assert jobs[0][0].key != claude_data.generate_requests(8, 8, 8, "m", 1000)[0][0].key  # new seed, new prompts


# ---------------------------------------------------------------------------------------------------
# The stage, run as DVC runs it


def workdir(tmp_path, n_rows=32, **anthropic):
    data = anthropic_params(**{"rows_per_request": 8, "concurrency": 2, "max_retries": 2, "timeout_s": 10,
                               **anthropic})
    data["generate_data"]["n_rows"] = n_rows
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def set_n_rows(cwd, n_rows):
    data = yaml.safe_load((cwd / "params.yaml").read_text())
    data["generate_data"]["n_rows"] = n_rows
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))


def stage_env(api, key=KEY):
    env = dict(os.environ, ANTHROPIC_BASE_URL=api.url, ANTHROPIC_LOG="debug")
    env.pop("ANTHROPIC_API_KEY", None)
    if key:
        env["ANTHROPIC_API_KEY"] = key
    return env


def run_stage(cwd, api, key=KEY):
    # A fresh interpreter: the anthropic SDK reads ANTHROPIC_LOG and sets its debug logging up at import, and the
    # key must stay out of exactly that output.
    return subprocess.run([sys.executable, str(REPO / "stages/generate_data.py")], cwd=cwd, env=stage_env(api, key),
                          capture_output=True, text=True, timeout=120)


def assert_no_key_anywhere(cwd, *outputs):
    for text in outputs:
        assert KEY not in text
    for path in cwd.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def bad_batch_reply(body):
    """Batch 7-1 (slots 8-15) answered with one row of each kind of fault; batch 7-2 with prose."""
    prompt = body["messages"][-1]["content"]
    if "Batch 7-2." in prompt:
        return "Sure! Here are the eight reports you asked for."
    reply = json.loads(default_reply(body))
    if "Batch 7-1." in prompt:
        rows = reply["rows"]
        rows[0]["triage"]["severity"] = "SEV9"                       # breaks the spec
        rows[1]["triage"]["category"] = "security"                   # not the cell asked for
        rows[2]["triage"]["affected_services"] = ["billing-db"]      # not named in the report
        rows[3]["report"] = "too short"
        rows[4] = dict(rows[5])                                       # n asked twice
        del rows[6]                                                   # missing
        rows.append(generated_row({"n": 99, "severity": "SEV1", "category": "outage", "style": "chat"}, "x"))
    return json.dumps(reply)


def test_stage_generates_balanced_rows_and_quarantines_bad_ones_with_a_reason(api, tmp_path):
    api.reply = bad_batch_reply
    api.faults += [{"status": 429, "retry_after": 0.05}, {"status": 500, "retry_after": 0.01}]
    cwd = workdir(tmp_path)
    result = run_stage(cwd, api)
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.count == 4 + 2  # four requests, two retried

    rows = read_jsonl(cwd / "data/generated/rows.jsonl")
    assert all(triage.validate(r["triage"]) == [] for r in rows)
    kept = {int(r["id"].split("-")[-1]) for r in rows}
    for row in rows:  # each row is the cell and style its slot asked for
        asked = claude_data.slot(int(row["id"].split("-")[-1]))
        assert (row["severity"], row["category"], row["style"]) == (asked["severity"], asked["category"], asked["style"])
    assert kept == set(range(8)) | {13, 15} | set(range(24, 32))
    quarantine = read_jsonl(cwd / "data/generated/quarantine.jsonl")
    reasons = sorted(q["reason"] for q in quarantine)
    assert reasons.count("reply is not JSON") == 8
    assert {r for r in reasons if r != "reply is not JSON"} == {
        "triage breaks the spec: severity 'SEV9' is not one of SEV1, SEV2, SEV3, SEV4",
        "asked for SEV3/degradation, the reply labels it SEV3/security",
        "affected_services not named in the report: ['billing-db']",
        "report must be a string of at least 20 characters",
        "a row number asked twice (n=13)",
        "row missing from the reply",
        "a row that was not asked for (n=99)",
    } and len(quarantine) == 8 + 8 and len(rows) + 8 + 6 == 32  # 6 of batch 7-1's slots quarantined

    metrics = json.loads((cwd / "metrics/generate_data.json").read_text())
    assert metrics["rows"] == len(rows) and metrics["rows_quarantined"] == len(quarantine)
    assert metrics["requests"] == 4 and metrics["requests_this_run"] == 4 and metrics["requests_cached"] == 0
    assert metrics["input_tokens"] > 0 and metrics["output_tokens"] > 0
    assert metrics["cost_usd"] == metrics["cost_usd_this_run"] > 0
    first = (cwd / "data/generated/rows.jsonl").read_bytes()

    again = run_stage(cwd, api)  # everything cached: nothing sent, same bytes, nothing paid this run
    assert again.returncode == 0 and api.count == 6
    assert (cwd / "data/generated/rows.jsonl").read_bytes() == first
    metrics = json.loads((cwd / "metrics/generate_data.json").read_text())
    assert metrics["requests_cached"] == 4 and metrics["cost_usd_this_run"] == 0 and metrics["cost_usd"] > 0

    set_n_rows(cwd, 48)  # two more requests: only they are sent
    assert run_stage(cwd, api).returncode == 0 and api.count == 8
    assert_no_key_anywhere(cwd, result.stdout, result.stderr, again.stdout, again.stderr)


def test_stage_labels_user_reports(api, tmp_path):
    cwd = workdir(tmp_path, mode="label", reports="my_reports.jsonl")
    reports = [{"id": f"r{i}", "report": f"checkout-api returns 502 for {i}% of requests"} for i in range(4)]
    write_jsonl(cwd / "my_reports.jsonl", reports + [{"report": "nothing-works here, BROKEN reply please"}])
    api.reply = lambda body: ("I think this is a SEV2." if "BROKEN" in body["messages"][-1]["content"]
                              else default_reply(body))
    result = run_stage(cwd, api)
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.count == 5 and all(b["system"] == triage.SYSTEM_PROMPT for b in api.bodies)
    rows = read_jsonl(cwd / "data/generated/rows.jsonl")
    assert [r["id"] for r in rows] == ["r0", "r1", "r2", "r3"]
    assert rows[0]["report"] == reports[0]["report"] and rows[0]["triage"]["affected_services"] == ["checkout-api"]
    quarantine = read_jsonl(cwd / "data/generated/quarantine.jsonl")
    assert [(q["id"], q["reason"]) for q in quarantine] == [("label-00005", "reply is not JSON")]
    assert quarantine[0]["reply"] == "I think this is a SEV2."


def test_stage_without_a_key_stops_before_any_work(api, tmp_path):
    result = run_stage(workdir(tmp_path), api, key=None)
    assert result.returncode == 1 and api.count == 0
    assert result.stderr == ("error: ANTHROPIC_API_KEY is not set: export your Anthropic API key "
                             "(it is read from this variable only)\n")
    assert not (tmp_path / "data").exists()


def test_stage_with_a_refused_key_stops_at_once_and_never_prints_it(api, tmp_path):
    api.key = "sk-ant-the-right-one-0000000000"
    result = run_stage(workdir(tmp_path, concurrency=1), api)
    assert result.returncode == 1 and api.count == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 4 of 4 requests have no answer (1 failed: HTTP 401 authentication_error: invalid x-api-key: "
        "[REDACTED]). The cache holds answers to 0 requests, 0 valid rows; run the stage again to send only "
        "the missing requests")
    assert_no_key_anywhere(tmp_path, result.stdout, result.stderr)


def test_stage_that_cannot_finish_says_what_it_has_and_resumes(api, tmp_path):
    api.answer_limit = 2  # the API goes down after two answers
    cwd = workdir(tmp_path, concurrency=1, max_retries=1, n_rows=48)
    result = run_stage(cwd, api)
    assert result.returncode == 1 and api.count == 2 + 2  # the third request, tried twice
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 4 of 6 requests have no answer (1 failed: HTTP 500 api_error: the fake API is down). The cache "
        "holds answers to 2 requests, 16 valid rows; run the stage again to send only the missing requests")
    assert not (cwd / "data/generated/rows.jsonl").exists()

    api.answer_limit = None
    result = run_stage(cwd, api)
    assert result.returncode == 0 and api.count == 4 + 4  # only the four missing requests
    assert len(read_jsonl(cwd / "data/generated/rows.jsonl")) == 48


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_stage_interrupted_or_killed_resumes_sending_only_the_missing_requests(api, tmp_path):
    api.delay = 0.2
    cwd = workdir(tmp_path, concurrency=1, rows_per_request=4, n_rows=48)  # 12 requests
    cache_dir = cwd / "data/claude_cache"
    command = [sys.executable, str(REPO / "stages/generate_data.py")]

    proc = subprocess.Popen(command, cwd=cwd, env=stage_env(api), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: api.answered >= 3)
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the request in flight is finished and cached
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    cached = len(list(cache_dir.glob("*.json")))
    assert cached == api.answered and 3 <= cached < 12
    assert "requests have no answer (interrupted)" in err and f"answers to {cached} requests, {4 * cached} valid rows" in err

    proc = subprocess.Popen(command, cwd=cwd, env=stage_env(api), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: api.answered >= cached + 2)
    proc.kill()  # a crash: whatever was in flight is lost, nothing half-written is left
    proc.communicate(timeout=60)
    files = list(cache_dir.glob("*.json"))
    assert all(json.loads(f.read_text())["response"] for f in files)  # whole answers only

    before = api.count
    result = run_stage(cwd, api)
    assert result.returncode == 0, result.stderr[-3000:]
    assert api.count - before == 12 - len(files)  # only the requests without an answer
    assert len({json.dumps(b, sort_keys=True) for b in api.bodies}) == 12
    assert len(read_jsonl(cwd / "data/generated/rows.jsonl")) == 48 and not list(cache_dir.glob(".*"))
    assert_no_key_anywhere(cwd, out, err, result.stdout, result.stderr)


def test_dvc_repro_keeps_the_cache_through_a_failed_and_a_forced_run(api, tmp_path):
    """The issue's check with DVC itself: persist keeps data/claude_cache when DVC re-runs the stage."""
    for name in ["dvc.yaml", "stages/generate_data.py", "examples/incident_reports.jsonl",
                 *(str(p.relative_to(REPO)) for p in (REPO / "ftlab").rglob("*.py"))]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    workdir(tmp_path, max_retries=0, concurrency=1)
    env = dict(stage_env(api), PATH=f"{REPO / '.venv/bin'}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    dvc = lambda *args: subprocess.run(["dvc", *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    subprocess.run("git init -q && dvc init -q", shell=True, cwd=tmp_path, env=env, check=True)

    api.answer_limit = 2
    failed = dvc("repro", "generate_data")
    assert failed.returncode != 0 and "2 of 4 requests have no answer" in failed.stderr + failed.stdout
    api.answer_limit = None
    assert dvc("repro", "generate_data").returncode == 0 and api.count == 2 + 1 + 2  # 2 answered, 1 failed, 2 sent
    rows = (tmp_path / "data/generated/rows.jsonl").read_bytes()
    assert len(rows.splitlines()) == 32
    forced = dvc("repro", "-f", "generate_data")  # DVC deletes outs before re-running, except persist ones
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert api.count == 5 and (tmp_path / "data/generated/rows.jsonl").read_bytes() == rows
    assert_no_key_anywhere(tmp_path / "data", failed.stdout, failed.stderr, forced.stdout, forced.stderr)
