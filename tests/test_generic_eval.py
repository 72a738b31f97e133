"""A data set that is not triage (dolly's instruction / context / response, from a local CSV) through
prepare, both train stages, evaluate and report on a tiny model: the triage metrics are skipped, the
task-free ones (answer loss, the forgetting probe, perplexity) remain, and the report says so."""
import json
import shutil

import pytest
import yaml

from tests.conftest import REPO, repo_params
from tests.test_prepare import generic_files
from tests.test_stages import run_stage


def test_generic_data_gets_answer_loss_and_probe_but_no_triage_metrics(tmp_path, tiny_model_dir):
    generic_files(tmp_path)
    shutil.copytree(REPO / "data/probe", tmp_path / "data/probe")
    data = repo_params()
    data["prepare"]["source"]["file"] = "in/dolly.csv"
    data["prepare"]["test_fraction"] = 0.2
    for stage in ("train_lora", "train_qlora"):
        data[stage]["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
        data[stage]["sft"].update(max_steps=2, eval_steps=1, learning_rate=1e-2)
    data["evaluate"].update(max_rows=3, max_new_tokens=8, batch_size=4, few_shot_k=1, probe_max_new_tokens=8)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))

    for stage in ("prepare", "evaluate_base", "train_lora", "train_qlora", "evaluate", "report"):
        run_stage(stage, tmp_path)

    evals = json.loads((tmp_path / "metrics/eval.json").read_text())
    assert set(evals) == {"test", "probe", "transfer_gap", "device"} and evals["transfer_gap"] == {}  # no real split, no baselines
    assert set(evals["test"]) == {"base", "base_fewshot", "lora", "qlora_base", "qlora"}
    for block in evals["test"].values():
        assert block["rows"] == 3 and block["answer_loss"] > 0
        assert "format_conformance" not in block and "severity_macro_f1" not in block
    assert evals["probe"]["lora"]["general_perplexity"] > 1 and "probe_answered" in evals["probe"]["qlora"]
    delta = json.loads((tmp_path / "metrics/delta.json").read_text())["test"]
    assert delta["lora"]["answer_loss"] == pytest.approx(
        evals["test"]["lora"]["answer_loss"] - evals["test"]["base"]["answer_loss"], abs=2e-4)
    assert "answer_loss_ci_low" in delta["lora_vs_fewshot"] and "severity_accuracy" not in delta["lora"]
    report = (tmp_path / "notes/report.md").read_text()
    assert "| answer_loss" in report and "Severity confusion" not in report and "| format_conformance" not in report
