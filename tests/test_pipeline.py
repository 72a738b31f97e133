"""End to end: the repo copied into a fresh git repo, params shrunk, `dvc repro` for real (embedded
SmolLM2, a few steps), then the things a user relies on: every out and metric, a second repro that
does nothing, `dvc exp run -S` re-running only what depends on the changed key, `dvc metrics diff`."""
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUTS = ("data/generated", "data/prepared", "data/eval", "data/claude_cache", "data/judge_cache", "models", "metrics",
           "dvclive", "dvc.lock", "notes/report.md", "notes/loss_curves.png")


def sh(cmd, cwd, env):
    result = subprocess.run(cmd, cwd=cwd, env=env, shell=True, capture_output=True, text=True)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        # metrics/scaling.json is no stage's out (python -m ftlab.eval.scaling writes it) but the report's dep
        if (REPO / name).is_file() and (not name.startswith(OUTPUTS) or name == "metrics/scaling.json"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    data = yaml.safe_load((root / "params.yaml").read_text())
    data["generate_data"]["n_rows"] = 64
    for stage in ("train_lora", "train_qlora"):
        data[stage].update(max_train_rows=4, max_val_rows=2)
        data[stage]["sft"].update(max_steps=2)
    data["evaluate"].update(max_rows=2, max_new_tokens=24, batch_size=2, few_shot_k=1, probe_max_new_tokens=8)
    # four of the real reports (the whole split costs minutes of generation here)
    (root / "data/real/some.jsonl").write_text("".join((REPO / "data/real/reports.jsonl").read_text().splitlines(True)[:4]))
    data["prepare"]["real"] = "data/real/some.jsonl"
    data["report"]["n_examples"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    env = dict(os.environ, FTLAB_CACHE=str(REPO / ".cache/ftlab"), HF_HUB_OFFLINE="1", DVC_NO_ANALYTICS="1")
    sh("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm init", root, env)
    return root, env


def test_dvc_repro_builds_every_out_and_metric(repo):
    root, env = repo
    sh("dvc repro", root, env)

    for adapter in ("models/lora", "models/qlora"):
        assert (root / adapter / "adapter_config.json").is_file()
        assert (root / adapter / "adapter_model.safetensors").stat().st_size > 0
    evals = json.loads((root / "metrics/eval.json").read_text())
    variants = {"base", "base_fewshot", "qlora_base", "majority", "classic", "lora", "qlora"}
    assert set(evals) == {"test", "real", "probe", "transfer_gap", "device"}
    # which device produced each number: a CPU run's metrics say so (a GPU's would say cuda and on_cuda)
    assert all(d.startswith("cpu: ") and d.endswith(" threads)") for d in evals["device"].values()), evals["device"]
    trained = json.loads((root / "metrics/train_lora.json").read_text())
    assert trained["device"].startswith("cpu: ") and trained["on_cuda"] is False
    assert "Training on cpu: " in (root / "notes/report.md").read_text()
    assert set(evals["test"]) == set(evals["real"]) == variants
    for name in ("base", "lora", "qlora_base", "qlora"):  # the forgetting probe, per base and fine-tune
        assert evals["probe"][name]["probe_rows"] >= 12 and evals["probe"][name]["general_perplexity"] > 1
    real_rows = 4
    for split, rows in (("test", 2), ("real", real_rows)):
        for name, block in evals[split].items():
            assert block["rows"] == rows
            for metric in ("severity_accuracy", "category_accuracy", "severity_exact", "category_exact"):
                assert 0.0 <= block[metric] <= 1.0
            if name not in ("majority", "classic"):
                for metric in ("format_conformance", "parseable", "faithfulness", "services_f1"):
                    assert 0.0 <= block[metric] <= 1.0
                assert block["latency_s"] > 0
    assert "answer_loss" in evals["test"]["lora"] and "answer_loss" not in evals["real"]["lora"]  # no reference answers
    assert set(evals["transfer_gap"]) == {"severity", "category"}
    delta = json.loads((root / "metrics/delta.json").read_text())
    assert set(delta["test"]) == {"lora", "qlora", "base_fewshot", "lora_vs_fewshot", "qlora_vs_fewshot", "lora_vs_majority",
                                  "qlora_vs_majority", "lora_vs_classic", "qlora_vs_classic"}
    for split in ("test", "real"):
        assert delta[split]["lora_vs_classic"]["category_accuracy"] == pytest.approx(
            evals[split]["lora"]["category_accuracy"] - evals[split]["classic"]["category_accuracy"], abs=1e-4)
        assert "format_conformance" not in delta[split]["lora_vs_classic"]  # a baseline has labels only
    assert "probe_answered_ci_low" in delta["probe"]["lora"] and "general_perplexity" in delta["probe"]["qlora"]
    for split, rows in (("test", 2), ("real", real_rows)):
        for name in ("lora", "qlora"):
            assert len((root / f"data/eval/{split}_{name}.jsonl").read_text().splitlines()) == rows
        for name in variants - {"lora", "qlora"}:
            assert len((root / f"data/eval_base/{split}_{name}.jsonl").read_text().splitlines()) == rows
    for stage in ("train_lora", "train_qlora"):
        trained = json.loads((root / f"metrics/{stage}.json").read_text())
        assert trained["steps"] == 2 and trained["train_rows"] == 4
    assert json.loads((root / "metrics/train_qlora.json").read_text())["loaded_in_4bit"] is True
    report = (root / "notes/report.md").read_text()
    headers = re.findall(r"^\| Metric +\| +Base +\| +Fine-tuned +\| +Delta +\| +Delta 95% CI +\| +Flips \+/- +\|$", report, re.M)
    assert len(headers) == 4  # one before/after table per fine-tune and split
    assert "learning_rate" in report  # the params that produced it
    assert "## The decision" in report and "### On the real incident reports" in report and "Transfer gap" in report
    assert "Classic (TF-IDF + LR)" in report and "Majority class" in report
    assert "#### Wins:" in report and "#### Losses:" in report
    assert (root / "notes/loss_curves.png").read_bytes().startswith(b"\x89PNG")
    for stage in ("train_lora", "train_qlora"):  # dvclive's step-wise logs, declared as plots
        assert len((root / f"dvclive/{stage}/plots/metrics/loss.tsv").read_text().splitlines()) == 1 + 2
    assert "whole interval is on one side of zero" in report and report.count("severity macro-F1") == 4
    assert all(0.0 <= block["severity_macro_f1"] <= 1.0 for block in evals["test"].values())
    assert {"format_conformance_ci_low", "format_conformance_wrong_to_right"} <= set(delta["test"]["qlora"])
    # DVC caches the data and adapters; metrics and the report stay in git.
    ignored = (root / "data/.gitignore").read_text() + (root / "models/.gitignore").read_text()
    assert "/prepared" in ignored and "/lora" in ignored and "/eval_base" in ignored
    assert not (root / "metrics/.gitignore").exists()

    again = sh("dvc repro", root, env)
    assert "Running stage" not in again and "up to date" in again


def test_exp_run_reruns_only_what_depends_on_the_changed_key(repo):
    root, env = repo
    sh("git add -A && git -c user.name=t -c user.email=t@t commit -qm results", root, env)
    out = sh("dvc exp run -S +train_lora.lora.r=8", root, env)  # +: train_lora's own lora over train.lora
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train_lora", "evaluate", "report"}  # not evaluate_base: the bases' outputs stay cached
    assert json.loads((root / "models/lora/adapter_config.json").read_text())["r"] == 8
    diff = sh("dvc metrics diff --md", root, env)
    assert "metrics/train_lora.json" in diff or "metrics/eval.json" in diff
    sh("dvc plots show -o plots-html", root, env)  # the loss curves, as HTML
    page = (root / "plots-html/index.html").read_text()
    assert "train loss" in page and "eval loss" in page
    shown = sh("dvc metrics show", root, env)
    assert "metrics/eval.json" in shown and "metrics/prepare.json" in shown
