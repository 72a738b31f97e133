"""Batched greedy generation (left padding, length-sorted batches) returns, in input order, the same
replies as one prompt at a time."""
import torch

from ftlab import models
from ftlab.eval import generation
from ftlab.params import BaseModelSpec
from tests.conftest import triage_row


def test_batched_equals_one_at_a_time_and_keeps_input_order(tiny_model_dir):
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    model, tokenizer = models.load_model(spec), models.load_tokenizer(spec)
    torch.manual_seed(0)
    with torch.no_grad():  # a random tiny model mostly repeats one token; spread its outputs
        for p in model.parameters():
            p.mul_(8)
    prompts = [triage_row(i)["messages"][:-1] for i in (3, 41, 7)]
    prompts[1][1]["content"] += " Search and billing look fine." * 4  # different lengths: real padding
    one_by_one = [generation.generate(model, tokenizer, [p], 12, 1)[0][0] for p in prompts]
    batched = [text for text, _ in generation.generate(model, tokenizer, prompts, 12, 3)]
    assert batched == one_by_one
    assert len(set(one_by_one)) > 1  # the prompts really produced different replies


def test_decoding_and_scoring_report_rows_done_and_time_left_on_stderr_in_a_log(tiny_model_dir, capsys):
    """Issue 32 item 3: in a log (stderr not a terminal, as under `dvc repro > log`) each decoding and scoring pass
    still says what it does, how many rows are done and the time left; `progress=False` keeps it quiet."""
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    model, tokenizer = models.load_model(spec), models.load_tokenizer(spec)
    rows = [triage_row(i) for i in range(3)]
    generation.generate(model, tokenizer, [r["messages"][:-1] for r in rows], 4, 2, desc="lora test")
    generation.answer_scores(model, tokenizer, [r["messages"] for r in rows], desc="lora test scores")
    err = capsys.readouterr().err
    done = next(line for line in err.replace("\r", "\n").splitlines() if line.startswith("lora test: 100%"))
    assert "3/3 [" in done and "<" in done and ("row/s" in done or "s/row" in done)  # rows, elapsed<left, rate
    assert "lora test scores: 100%" in err
    generation.generate(model, tokenizer, [rows[0]["messages"][:-1]], 4, 1, desc="quiet", progress=False)
    assert "quiet" not in capsys.readouterr().err


def test_answer_scores_run_the_shared_prompt_once_and_score_as_row_by_row(tiny_model_dir, monkeypatch):
    """The rubric prompt every row shares is computed once (a prefix cache) instead of per row; the teacher-forced
    losses and the likelihood-scored labels are those of each row alone."""
    from ftlab import triage

    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    model, tokenizer = models.load_model(spec), models.load_tokenizer(spec)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8)
    rows = [triage_row(i, severity=s) for i, s in ((3, "SEV1"), (41, "SEV3"), (7, "SEV4"))]
    rows[1]["messages"][1]["content"] += " Search and billing look fine." * 4
    conversations = [r["messages"] for r in rows]
    calls = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(k["input_ids"].shape[1]) or forward(*a, **k))
    shared = generation.answer_scores(model, tokenizer, conversations, triage.ENUMS)
    prefix = generation.shared_prefix([tokenizer.apply_chat_template(c[:-1], add_generation_prompt=True, tokenize=True,
                                                                     return_dict=True)["input_ids"] for c in conversations])
    assert prefix > 150 and calls[0] == prefix  # the rubric system prompt, once
    monkeypatch.setattr(generation, "MIN_SHARED", 10**6)  # no sharing: each row's whole conversation
    alone = generation.answer_scores(model, tokenizer, conversations, triage.ENUMS)
    for a, b in zip(shared, alone):
        assert a.keys() == b.keys() and {"severity_scored", "category_label_loss"} <= a.keys()
        for key in a:
            if key.endswith("_scored"):
                assert a[key] == b[key]
            elif key.endswith("_logprobs"):  # every allowed value's log-probability, the scored one the highest
                assert a[key].keys() == set(triage.ENUMS[key.removesuffix("_logprobs")])
                assert max(a[key], key=a[key].get) == a[key.replace("_logprobs", "_scored")]
                assert all(abs(a[key][v] - b[key][v]) < 1e-3 * max(1.0, abs(b[key][v])) for v in a[key]), key
            else:
                assert abs(a[key] - b[key]) < 1e-3 * max(1.0, abs(b[key])), key
    # The shared cache is cut back to the prefix after every row (no copy): a second call, and the losses alone
    # (what evaluate asks for: no likelihood-scored labels), give the same numbers.
    monkeypatch.setattr(generation, "MIN_SHARED", 64)
    losses = generation.answer_scores(model, tokenizer, conversations, triage.ENUMS, score_values=False)
    assert [{k: v for k, v in row.items() if not k.endswith(("_scored", "_logprobs"))} for row in shared] == losses


def test_no_json_start_stops_prose_and_leaves_a_reply_that_opens_an_object(tiny_model_dir):
    """generate(json_within=N): a reply whose first N non-space characters hold no `{` is done (prose can be no
    JSON object); a reply that opens one in time, fenced or after a short preface, is not stopped; whitespace
    does not count."""
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    tokenizer = models.load_tokenizer(spec)

    def stopped_after(text, chars=40):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        criterion = generation.NoJsonStart(tokenizer, chars)
        for k in range(1, len(ids) + 1):
            if criterion(torch.tensor([[0, 0] + ids[:k]]), None)[0]:
                return tokenizer.decode(ids[:k])
        return None

    prose = "Severity is by impact: SEV1 core service down for most users, or data lost or exposed."
    cut = stopped_after(prose)
    assert cut is not None and len("".join(cut.split())) >= 40 and len(cut) < len(prose)
    assert stopped_after("Here you go:\n```json\n" + '{"severity": "SEV2", "category": "outage"}' * 3) is None
    assert stopped_after("\n\n      \n" * 20 + '{"severity": "SEV2"}') is None
    assert stopped_after(prose, chars=500) is None


def test_the_progress_bar_redraws_at_a_terminal_and_writes_a_line_every_30_s_in_a_log(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with generation.progress_bar(3, "tty") as bar:
        assert bar.mininterval == 0.1 and not bar.disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with generation.progress_bar(3, "log") as bar:
        assert bar.mininterval == 30.0 and not bar.disable
    assert generation.progress_bar(3, "off", enabled=False).disable
