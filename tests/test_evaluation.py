"""Evaluation pieces users rely on beyond the pipeline: accepted-answer lists, the forgetting probe,
and the `ftlab predict` / `ftlab score` commands on files that are not in the data set."""
import json
import math

import pytest
import torch

from ftlab import models, params, train
from ftlab.eval import metrics, probe
from ftlab.io import read_jsonl, write_jsonl
from tests.conftest import REPO, repo_params, run_in_process, triage_row, write_meta

GOLD = {"severity": "SEV2", "category": "degradation", "affected_services": ["checkout-api"]}
REPLY = json.dumps({"severity": "SEV3", "category": "outage", "affected_services": ["checkout-api"],
                    "summary": "checkout-api fails.", "next_action": "Roll back."})


def test_accepted_answer_lists_widen_what_counts_as_right():
    strict = metrics.score_row(REPLY, GOLD, "checkout-api fails")
    assert strict["severity_accuracy"] == 0 and strict["category_accuracy"] == 0
    lenient = metrics.score_row(REPLY, GOLD | {"severity_ok": ["SEV2", "SEV3"], "category_ok": ["degradation", "outage"]},
                                "checkout-api fails")
    assert lenient["severity_accuracy"] == 1 and lenient["category_accuracy"] == 1
    assert lenient["severity_gold"] == "SEV2"  # the confusion matrix keeps the preferred label


def test_probe_scores_answers_by_whole_word_and_spots_triage_json():
    assert probe.score("The symbol is Au.", ["au"])["probe_answered"] == 1
    assert probe.score("In autumn leaves fall.", ["au"])["probe_answered"] == 0
    leaked = probe.score(REPLY, ["paris"])
    assert leaked == {"probe_answered": 0.0, "probe_triage_json": 1.0}
    shipped = probe.load(REPO / probe.INSTRUCTIONS)
    assert len(shipped) >= 12 and len({p["id"] for p in shipped}) == len(shipped)
    assert all(p["prompt"] and p["expect"] for p in shipped)


def test_perplexity_is_exp_of_the_mean_token_loss(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = (REPO / probe.GENERAL_TEXT).read_text()
    ids = tokenizer(text, return_tensors="pt")["input_ids"][:, :100]
    with torch.no_grad():
        expected = math.exp(model(input_ids=ids, labels=ids).loss.item())
    assert probe.perplexity(model, tokenizer, tokenizer.decode(ids[0]), window=512) == pytest.approx(expected, rel=1e-3)
    # Windows: two halves give a different (count-weighted) figure, still finite and positive.
    assert 1 < probe.perplexity(model, tokenizer, text, window=64) < 10 * len(tokenizer)


def ftlab(*args, cwd):
    """`ftlab ARGS...` run from `cwd`, in this process (cli.main as `python -m ftlab` runs it)."""
    from ftlab import cli

    return run_in_process(lambda: cli.main([str(a) for a in args]), cwd)


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, tiny_model_dir):
    """A real adapter trained for a few steps on the tiny model, as train_lora saves it."""
    tmp = tmp_path_factory.mktemp("adapter")
    rows = [triage_row(i) for i in range(8)]
    write_jsonl(tmp / "data/train.jsonl", rows)
    write_jsonl(tmp / "data/val.jsonl", rows[:2])
    write_meta(tmp / "data")
    data = repo_params()
    data["train_lora"]["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    data["train_lora"]["sft"].update(max_steps=2, learning_rate=1e-2)
    train.train(tmp / "data", tmp / "lora", tmp / "m.json", params.parse("train_lora", data))
    return tmp / "lora"


def test_predict_then_score_on_files_outside_the_data_set(tmp_path, adapter_dir):
    reports = ["Login fails for every user since 09:00; auth-service returns 500.",
               "A cosmetic typo on the pricing page footer, no customer impact."]
    write_jsonl(tmp_path / "reports.jsonl", [{"id": f"r{i}", "report": r} for i, r in enumerate(reports)])
    done = ftlab("predict", "reports.jsonl", "-o", "preds.jsonl", "--adapter", adapter_dir,
                 "--max-new-tokens", 16, "--batch-size", 2, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    preds = read_jsonl(tmp_path / "preds.jsonl")
    assert [p["id"] for p in preds] == ["r0", "r1"] and all(isinstance(p["output"], str) for p in preds)

    # Score a hand-made reply file too, so the numbers are known: r0 right on severity by its
    # accepted list, r1 wrong; the category list accepts both.
    write_jsonl(tmp_path / "mine.jsonl", [
        {"id": "r0", "report": reports[0], "output": REPLY},
        {"id": "r1", "report": reports[1], "output": "no idea"},
    ])
    write_jsonl(tmp_path / "labels.jsonl", [
        {"id": "r0", "severity": "SEV2", "severity_ok": ["SEV2", "SEV3"], "category": "outage",
         "affected_services": ["auth-service"]},
        {"id": "r1", "severity": "SEV4", "category": "degradation", "category_ok": ["degradation", "outage"],
         "affected_services": ["pricing page"]},
    ])
    done = ftlab("score", "mine.jsonl", "labels.jsonl", "-o", "scores.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["rows"] == 2 and scores["format_conformance"] == 0.5 and scores["severity_accuracy"] == 0.5
    assert scores["category_accuracy"] == 0.5 and "severity_accuracy" in done.stdout
    assert ftlab("score", "preds.jsonl", "labels.jsonl", cwd=tmp_path).returncode == 0  # the model's own file


@pytest.mark.parametrize("rows, message", [
    ([{"id": 1, "text": "no report field"}], "line 1: field 'report' must be a non-empty string"),
    ([{"id": 1, "report": ""}], "field 'report'"),
    ([{"id": 1, "report": "a"}, {"id": 1, "report": "b"}], "ids are not unique"),
    ([], "no rows"),
])
def test_predict_names_the_bad_row(tmp_path, rows, message):
    write_jsonl(tmp_path / "reports.jsonl", rows)
    done = ftlab("predict", "reports.jsonl", "-o", "p.jsonl", cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize("label, message", [
    ({"id": "r0", "severity": "P1", "category": "outage", "affected_services": []}, "field 'severity' is 'P1'"),
    ({"id": "r0", "severity": "SEV1", "category": "outage", "affected_services": [], "severity_ok": ["SEV2"]},
     "'severity_ok' must be a list"),
    ({"severity": "SEV1", "category": "outage", "affected_services": []}, "no 'id'"),
    ({"id": "r9", "severity": "SEV1", "category": "outage", "affected_services": []}, "no prediction for 1 labelled ids"),
])
def test_score_names_the_bad_label(tmp_path, label, message):
    write_jsonl(tmp_path / "preds.jsonl", [{"id": "r0", "output": REPLY}])
    write_jsonl(tmp_path / "labels.jsonl", [label])
    done = ftlab("score", "preds.jsonl", "labels.jsonl", cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


def test_score_scores_only_the_labelled_fields_and_says_what_it_skipped(tmp_path):
    write_jsonl(tmp_path / "preds.jsonl", [{"id": "r0", "output": REPLY}, {"id": "r1", "output": "no idea"}])
    write_jsonl(tmp_path / "labels.jsonl", [{"id": "r0", "severity": "SEV3", "category": "outage"},
                                            {"id": "r1", "severity": "SEV1", "category": "outage"}])
    done = ftlab("score", "preds.jsonl", "labels.jsonl", "-o", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not scored: services_f1" in done.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["severity_accuracy"] == 0.5 and scores["category_accuracy"] == 0.5 and "services_f1" not in scores
    # a field in some rows only is ambiguous: refused, naming the line
    write_jsonl(tmp_path / "mixed.jsonl", [{"id": "r0", "severity": "SEV3"}, {"id": "r1", "severity": "SEV1", "category": "outage"}])
    done = ftlab("score", "preds.jsonl", "mixed.jsonl", cwd=tmp_path)
    assert done.returncode != 0 and "line 2: labels severity, category, but earlier rows label severity" in done.stderr


@pytest.mark.parametrize("file, rows, message", [
    ("labels.jsonl", [{"id": "r0", "severity": "SEV1"}, {"id": "r0", "severity": "SEV2"}], "id 'r0' is labelled more than once"),
    ("preds.jsonl", [{"id": "r0", "output": "a"}, {"id": "r0", "output": "b"}], "line 2: id 'r0' is predicted twice"),
])
def test_score_refuses_an_id_given_twice(tmp_path, file, rows, message):
    write_jsonl(tmp_path / "preds.jsonl", [{"id": "r0", "output": REPLY}])
    write_jsonl(tmp_path / "labels.jsonl", [{"id": "r0", "severity": "SEV3"}])
    write_jsonl(tmp_path / file, rows)
    done = ftlab("score", "preds.jsonl", "labels.jsonl", cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


def test_score_with_train_prints_the_baselines_and_the_paired_delta(tmp_path):
    from ftlab.data import synth

    train_rows = [{"report": r["report"], "severity": r["severity"], "category": r["category"]} for r in synth.generate(64, 3)]
    write_jsonl(tmp_path / "train.jsonl", train_rows)
    held_out = synth.generate(16, 4)
    write_jsonl(tmp_path / "labels.jsonl", [{"id": r["id"], "report": r["report"], "severity": r["severity"],
                                             "category": r["category"]} for r in held_out])
    write_jsonl(tmp_path / "preds.jsonl", [{"id": r["id"], "output": json.dumps(r["triage"])} for r in held_out])  # perfect
    done = ftlab("score", "preds.jsonl", "labels.jsonl", "--train", "train.jsonl", "-o", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "majority" in done.stdout and "model − classic" in done.stdout
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["model"]["severity_accuracy"] == 1.0
    d = scores["model_vs_majority"]
    # a constant predictor cannot beat a perfect one: the delta is positive with an interval above zero
    assert d["severity_accuracy"] == pytest.approx(1.0 - scores["majority"]["severity_accuracy"], abs=1e-4)
    assert d["severity_accuracy"] > 0 and d["severity_accuracy_ci_low"] > 0
    assert scores["model_vs_classic"]["category_accuracy"] >= 0


def test_baselines_are_fitted_on_the_training_rows_only():
    from ftlab.eval import baselines

    # training rows whose labels contradict the test rows' words: a baseline that saw the test labels would get them right
    train_rows = [{"report": f"checkout-api is down for everyone {i}", "severity": "SEV4", "category": "security"} for i in range(6)]
    train_rows += [{"report": f"a typo in the footer {i}", "severity": "SEV1", "category": "outage"} for i in range(6)]
    test_rows = [{"report": "checkout-api is down for everyone", "severity": "SEV1", "category": "outage"}]
    fitted = baselines.fit_all(train_rows)
    predicted = baselines.predict(fitted, test_rows)
    assert predicted["classic"][0] == {"severity": "SEV4", "category": "security"}  # what the training rows taught
    assert predicted["majority"][0]["severity"] in ("SEV1", "SEV4")


def test_adapter_on_the_wrong_base_is_a_clear_error(tmp_path, adapter_dir):
    from transformers import LlamaConfig, LlamaForCausalLM

    other = LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1))
    with pytest.raises(models.ModelSourceError, match="does not fit this base model"):
        models.load_adapter(other, adapter_dir)


def test_predict_reports_progress_writes_as_it_goes_and_resumes(tmp_path, adapter_dir):
    """Batch jobs: a progress line with the time left on stderr, rows written chunk by chunk, and a rerun after a
    kill goes on from the rows already written (a cut-off last line dropped) with the same replies."""
    reports = [f"payments-api {i}: error rate {10 * i}% since 09:{i:02d}, checkout failing for some users." for i in range(6)]
    write_jsonl(tmp_path / "reports.jsonl", [{"id": i, "report": r} for i, r in enumerate(reports)])
    args = ("predict", "reports.jsonl", "-o", "preds.jsonl", "--adapter", adapter_dir, "--max-new-tokens", 12,
            "--batch-size", 1)
    done = ftlab(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "predict: 4/6 rows" in done.stderr and "predict: 6/6 rows" in done.stderr and "left" in done.stderr
    full = (tmp_path / "preds.jsonl").read_text()
    lines = full.splitlines(True)
    (tmp_path / "preds.jsonl").write_text("".join(lines[:2]) + lines[2][:25])  # killed while writing row 3
    done = ftlab(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resuming preds.jsonl: 2 of 6 rows already written" in done.stderr
    assert (tmp_path / "preds.jsonl").read_text() == full
    # An output that holds something else is refused, not overwritten or appended to.
    (tmp_path / "other.jsonl").write_text('{"id": 9, "note": "mine"}\n')
    done = ftlab("predict", "reports.jsonl", "-o", "other.jsonl", "--adapter", adapter_dir, cwd=tmp_path)
    assert done.returncode == 1 and "-o other.jsonl: exists and is not an earlier run" in done.stderr
    assert (tmp_path / "other.jsonl").read_text() == '{"id": 9, "note": "mine"}\n' and "Traceback" not in done.stderr


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "adapter_model.safetensors").write_bytes((d / "adapter_model.safetensors").read_bytes()[:1000]),
     "adapter_model.safetensors: damaged"),
    (lambda d: (d / "adapter_model.safetensors").write_bytes(
        (d / "adapter_model.safetensors").read_bytes()[:-4096]), "adapter_model.safetensors: damaged"),
    (lambda d: (d / "adapter_model.safetensors").unlink(), "adapter_model.safetensors: missing"),
    (lambda d: (d / "adapter_config.json").write_text("{"), "adapter_config.json: damaged, not JSON"),
    (lambda d: (d / "ftlab_base.json").write_text("{"), "ftlab_base.json: damaged, not JSON"),
])
def test_a_damaged_adapter_is_named_before_a_model_loads(tmp_path, adapter_dir, damage, message):
    """A truncated weights file ended in a safetensors traceback; a config that is not JSON was reported as 'the
    adapter does not fit this base model'. Each is one line naming the file and how to get it back, in predict and
    merge, and nothing is written."""
    import shutil

    broken = tmp_path / "lora"
    shutil.copytree(adapter_dir, broken)
    damage(broken)
    write_jsonl(tmp_path / "reports.jsonl", [{"id": 1, "report": "checkout-api down for all users"}])
    for args in (("predict", "reports.jsonl", "-o", "preds.jsonl", "--adapter", "lora"),
                 ("merge", "--adapter", "lora", "-o", "merged")):
        done = ftlab(*args, cwd=tmp_path)
        assert done.returncode == 1 and message in done.stderr and "dvc checkout" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "Loading weights" not in done.stderr
        assert not (tmp_path / "preds.jsonl").exists() and not (tmp_path / "merged").exists()
