"""The faithfulness judge (ftlab/eval/judge.py): the offline backend, and the anthropic backend through the
real `anthropic` client against the fake Messages API on 127.0.0.1 (tests/fake_anthropic.py)."""
import json
import logging
import re
import time

import pytest

from ftlab import params
from ftlab.data import claude

from ftlab.eval import judge, metrics
from tests.conftest import REPO, repo_params
from tests.fake_anthropic import FakeAnthropic

KEY = "sk-ant-api03-FAKE-" + "j9Wv" * 20  # the shape of a real key, and unique enough to grep for
REPORT = "Since 14:05 UTC checkout-api returns HTTP 502 for 30% of requests in eu-west; search-api is healthy."


def reply(services, summary="checkout-api returns HTTP 502 for 30% of requests."):
    return {"severity": "SEV2", "category": "degradation", "affected_services": services,
            "summary": summary, "next_action": "Check the checkout-api error dashboards."}


def judge_reply(body) -> str:
    """A deterministic stand-in for Claude: 5 when every affected service is in the report, 3 when
    some are, 1 when none are."""
    content = body["messages"][-1]["content"]
    report = re.search(r"<report>\n(.*)\n</report>", content, re.S).group(1)
    fields = json.loads(re.search(r"<reply>\n(.*)\n</reply>", content, re.S).group(1))
    services = fields["affected_services"] or []
    named = sum(s in report for s in services)
    score = 5 if services and named == len(services) else 3 if named else 1
    return json.dumps({"score": score, "reason": f"{named} of {len(services)} services are in the report."})


@pytest.fixture
def api(monkeypatch):
    with FakeAnthropic(KEY, reply=judge_reply) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


def judge_params(backend="anthropic", **anthropic) -> params.Judge:
    data = repo_params()
    data["evaluate"]["judge"]["backend"] = backend
    data["evaluate"]["judge"]["anthropic"].update(
        {"concurrency": 2, "max_retries": 2, "timeout_s": 5, **anthropic})
    return params.parse("evaluate", data).judge


ITEMS = [
    (REPORT, reply(["checkout-api"])),                  # 5 -> 1.0
    (REPORT, reply(["checkout-api", "billing-db"])),    # 3 -> 0.5
    (REPORT, reply(["ghost-svc"])),                     # 1 -> 0.0
    (REPORT, None),                                     # no JSON in the reply: 0, no request
    (REPORT, {"severity": "SEV2"}),                     # nothing to judge: 0, no request
    (REPORT, reply(["checkout-api"])),                  # the same as row 1: the same request
]


def assert_no_key(*texts, root=None):
    for text in texts:
        assert KEY not in text
    for path in (root.rglob("*") if root else []):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


# ---------------------------------------------------------------------------------------------------
# params


def test_shipped_default_is_the_offline_judge_with_a_pinned_model():
    p = params.load("evaluate", REPO / "params.yaml").judge
    assert p.backend == "offline" and re.fullmatch(r"claude-[a-z0-9-]+-\d{8}", p.anthropic.model)


def test_params_name_the_key():
    data = repo_params()
    data["evaluate"]["judge"] = {"backend": "anthropic"}
    with pytest.raises(params.ParamsError, match=r"evaluate.judge: Value error, backend: anthropic needs the `anthropic:`"):
        params.parse("evaluate", data)
    data["evaluate"]["judge"] = {"backend": "claude"}
    with pytest.raises(params.ParamsError, match=r"evaluate.judge.backend: Input should be 'offline' or 'anthropic'"):
        params.parse("evaluate", data)
    data = repo_params()
    data["evaluate"]["judge"]["anthropic"]["temperature"] = 0.0
    with pytest.raises(params.ParamsError, match=r"evaluate.judge.anthropic.temperature: unknown key"):
        params.parse("evaluate", data)
    del data["evaluate"]["judge"]
    with pytest.raises(params.ParamsError, match=r"evaluate.judge: Field required"):
        params.parse("evaluate", data)


# ---------------------------------------------------------------------------------------------------
# offline


def test_offline_backend_is_metrics_faithfulness_and_needs_no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    p = judge_params("offline")
    judge.check_key(p)
    faith, out = judge.scores(p, ITEMS, tmp_path / "cache")
    assert faith == [metrics.faithfulness(obj, report) if obj is not None else 0.0 for report, obj in ITEMS]
    assert faith[0] > 0.9 > faith[2] and faith[3] == faith[4] == 0.0 and out == {}
    assert (tmp_path / "cache").is_dir()  # a DVC out exists whichever the backend


# ---------------------------------------------------------------------------------------------------
# verdicts


@pytest.mark.parametrize("text, score", [
    ('{"score": 4, "reason": "One guessed time."}', 4),
    ('  {"reason": "All stated.", "score": 5, "notes": "extra keys are ignored"}\n', 5),
    ('```json\n{"score": 1, "reason": "Unrelated."}\n```', 1),
])
def test_valid_verdicts(text, score):
    verdict = judge.parse_verdict(text)
    assert verdict.score == score and verdict.reason and verdict.normalised == (score - 1) / 4


@pytest.mark.parametrize("text, message", [
    ("I'd give it a 4.", "reply is not one JSON object: \"I'd give it a 4.\""),
    ('Verdict: {"score": 4, "reason": "x"}', "reply is not one JSON object"),
    ('[4, "fine"]', "reply is JSON but not an object"),
    ('{"score": 0, "reason": "x"}', "score must be an integer from 1 to 5, got 0"),
    ('{"score": 6, "reason": "x"}', "score must be an integer from 1 to 5, got 6"),
    ('{"score": 4.5, "reason": "x"}', "score must be an integer from 1 to 5, got 4.5"),
    ('{"score": "4", "reason": "x"}', "score must be an integer from 1 to 5, got '4'"),
    ('{"score": true, "reason": "x"}', "score must be an integer from 1 to 5, got True"),
    ('{"score": 4}', "reason must be a non-empty string, got None"),
    ('{"score": 4, "reason": " "}', "reason must be a non-empty string"),
])
def test_invalid_verdicts_say_why(text, message):
    with pytest.raises(judge.VerdictError) as e:
        judge.parse_verdict(text)
    assert str(e.value).startswith(message)


def test_request_carries_the_rubric_the_report_and_only_the_judged_fields():
    p = judge_params()
    request = judge.request_for(p.anthropic, REPORT, reply(["checkout-api"]))
    body = request.body()
    assert body["system"] == judge.RUBRIC and body["model"] == p.anthropic.model
    assert body["max_tokens"] == p.anthropic.max_tokens
    content = body["messages"][0]["content"]
    assert REPORT in content and "severity" not in content and "Check the checkout-api error dashboards." in content
    assert judge.request_for(p.anthropic, REPORT, None) is None
    assert judge.request_for(p.anthropic, REPORT, {"summary": "", "affected_services": []}) is None
    assert judge.request_for(p.anthropic, REPORT, {"summary": "checkout-api is down"}) is not None


# ---------------------------------------------------------------------------------------------------
# anthropic, against the fake API


def test_scores_are_parsed_normalised_and_cached(api, tmp_path, capfd, caplog):
    p = judge_params()
    cache_dir = tmp_path / "judge_cache"
    with caplog.at_level(logging.DEBUG):
        judged = judge.judge(p, ITEMS, cache_dir)
    assert judged.scores == [1.0, 0.5, 0.0, 0.0, 0.0, 1.0]
    assert judged.reasons[0] == "1 of 1 services are in the report." and judged.reasons[3:5] == [None, None]
    assert api.count == 3 and len(list(cache_dir.glob("*.json"))) == 3
    assert all(b["system"] == judge.RUBRIC and b["model"] == p.anthropic.model for b in api.bodies)
    m = judged.metrics
    assert (m["judge_rows_nothing_to_judge"], m["judge_requests"], m["judge_requests_cached"],
            m["judge_requests_this_run"]) == (2, 3, 0, 3)
    assert m["judge_input_tokens"] > 0 and m["judge_output_tokens"] > 0
    assert m["judge_cost_usd"] == m["judge_cost_usd_this_run"] > 0
    assert all(isinstance(v, (int, float)) for v in m.values())

    faith, again = judge.scores(p, ITEMS, cache_dir)  # a re-run costs nothing
    assert api.count == 3 and faith == judged.scores
    assert again["judge_requests_cached"] == 3 and again["judge_requests_this_run"] == 0
    assert again["judge_cost_usd_this_run"] == 0 and again["judge_cost_usd"] == m["judge_cost_usd"]

    faith, _ = judge.scores(judge_params(max_tokens=300), ITEMS[:1], cache_dir)  # another request: sent
    assert api.count == 4 and faith == [1.0]
    out, err = capfd.readouterr()
    assert "judge: 3 verdicts from" in out
    assert_no_key(out, err, caplog.text, root=tmp_path)


def test_429_with_retry_after_then_success(api, tmp_path):
    api.faults += [{"status": 429, "retry_after": 0.3}]
    start = time.monotonic()
    faith, m = judge.scores(judge_params(), ITEMS[:1], tmp_path)
    assert faith == [1.0] and api.count == 2 and m["judge_requests_this_run"] == 1
    assert time.monotonic() - start >= 0.3  # the SDK waited what retry-after said


def test_500_then_success(api, tmp_path):
    api.faults += [{"status": 500, "retry_after": 0.01}]
    faith, _ = judge.scores(judge_params(), ITEMS[:1], tmp_path)
    assert faith == [1.0] and api.count == 2


@pytest.mark.parametrize("text, why", [
    ("The summary looks faithful; I'd say 4 out of 5.", "row 2: reply is not one JSON object"),
    ('{"score": 7, "reason": "Very faithful."}', "row 2: score must be an integer from 1 to 5, got 7"),
])
def test_an_invalid_verdict_fails_the_run_and_is_asked_again_next_time(api, tmp_path, text, why):
    p = judge_params(concurrency=1)
    items = ITEMS[:3]
    api.faults += [{}, {"text": text}]  # the second request (row 2) gets the bad reply
    with pytest.raises(judge.JudgeError) as e:
        judge.scores(p, items, tmp_path)
    message = str(e.value)
    assert message.startswith(f"judge: 1 of 3 verdicts are not valid ({why}")
    assert message.endswith("so that a re-run asks for them again, and the 2 valid verdicts stay cached")
    assert api.count == 3 and len(list(tmp_path.glob("*.json"))) == 2
    faith, m = judge.scores(p, items, tmp_path)
    assert faith == [1.0, 0.5, 0.0] and api.count == 4 and m["judge_requests_cached"] == 2


def test_a_missing_key_is_one_line_before_any_work(api, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    expected = ("evaluate.judge.backend is anthropic and ANTHROPIC_API_KEY is not set: export your Anthropic "
                "API key (it is read from this variable only) (or set evaluate.judge.backend: offline)")
    with pytest.raises(judge.JudgeError) as e:
        judge.check_key(judge_params())
    assert str(e.value) == expected
    with pytest.raises(judge.JudgeError) as e:
        judge.scores(judge_params(), ITEMS, tmp_path)
    assert str(e.value) == expected and api.count == 0


def test_a_refused_key_stops_at_once_and_is_never_shown(api, tmp_path, capfd, caplog):
    api.key = "sk-ant-the-right-one-0000000000"  # the fake echoes the key it got in its 401 message
    with caplog.at_level(logging.DEBUG), pytest.raises(judge.JudgeError) as e:
        judge.scores(judge_params(concurrency=1), ITEMS, tmp_path)
    assert str(e.value) == ("judge: 3 of 3 requests have no answer (1 failed: HTTP 401 authentication_error: "
                            f"invalid x-api-key: {claude.REDACTED}); the 0 answered are cached in {tmp_path}, "
                            "so a re-run asks only for the missing ones")
    assert api.count == 1 and not list(tmp_path.glob("*.json"))  # not retried, nothing more sent, nothing cached
    out, err = capfd.readouterr()
    assert_no_key(str(e.value), repr(e.value), out, err, caplog.text, root=tmp_path)
