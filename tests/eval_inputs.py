"""Inputs for running the evaluate stages cheaply (tests/test_faults.py, tests/test_reliability.py):
prepared splits of a few triage rows (and two real reports), LoRA adapters for `models/lora` and
`models/qlora` made with PEFT on the tiny model (random, untrained: evaluate only needs them to load),
each with the ftlab_base.json a train stage writes, and data/eval_base from stages/evaluate_base.py."""
import json
import shutil

import yaml

from ftlab.io import read_jsonl, write_json, write_jsonl
from tests.conftest import REPO, repo_params, triage_row
from tests.test_stages import run_stage

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def params_for(tiny_model_dir, **evaluate) -> dict:
    data = repo_params()
    for stage in ("train_lora", "train_qlora"):
        data[stage]["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    data["evaluate"].update({"max_rows": 2, "max_new_tokens": 8, "batch_size": 2, "few_shot_k": 1,
                             "probe_max_new_tokens": 8, **evaluate})
    return data


def make(root, tiny_model_dir, **evaluate):
    """A directory the evaluate stage runs in (python stages/evaluate.py from it)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = params_for(tiny_model_dir, **evaluate)
    (root / "params.yaml").write_text(yaml.safe_dump(data))
    rows = [triage_row(i, severity=("SEV1", "SEV2", "SEV3")[i % 3]) for i in range(8)]
    write_jsonl(root / "data/prepared/train.jsonl", rows[:4])
    write_jsonl(root / "data/prepared/val.jsonl", rows[4:5])
    write_jsonl(root / "data/prepared/test.jsonl", rows[5:])
    write_jsonl(root / "data/prepared/real.jsonl", read_jsonl(REPO / "data/real/reports.jsonl")[:2])
    write_json(root / "data/prepared/meta.json", {"task": "triage", "shape": "triage", "source": "test",
                                                  "prompt": "rubric", "answer_order": "spec"})
    shutil.copytree(REPO / "data/probe", root / "data/probe")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for name, stage in (("lora", "train_lora"), ("qlora", "train_qlora")):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=LINEAR, task_type="CAUSAL_LM",
                                                      init_lora_weights=False))
        peft_model.save_pretrained(root / "models" / name)
        tokenizer.save_pretrained(root / "models" / name)
        (root / "models" / name / "ftlab_base.json").write_text(json.dumps(
            {"base_model": data[stage]["base_model"], "bnb": data[stage].get("bnb"), "prompt": "short",
             "answer_order": "spec"}))
    run_stage("evaluate_base", root)  # in this process, as `python stages/evaluate_base.py` runs it
    return root
