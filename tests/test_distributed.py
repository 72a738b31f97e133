"""The multi-process path on the CPU: `launch: {num_processes: 2, multi_gpu: true}` re-runs the train
stage under `accelerate launch` (two processes, gloo), on a tiny model built from config. At the same
global batch (2 processes x 2 rows against 1 process x 4 rows, no dropout) DDP must give the same
adapter as one process, up to float reduction order, and one adapter, one metrics file, one curve."""
import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from ftlab import params
from ftlab.io import write_jsonl
from tests.conftest import REPO, repo_params, triage_row, write_meta


def _workdir(root, tiny_model_dir, launch, batch):
    data = repo_params()
    t = data["train_lora"]
    t["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    t["lora"] = {"lora_dropout": 0.0}  # dropout masks are drawn per process: off, so the runs can match
    t["sft"].update(per_device_train_batch_size=batch, eval_steps=2, save_steps=2, learning_rate=1e-2,
                    warmup_steps=0, ddp_find_unused_parameters=False)
    t["launch"] = launch
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(data))
    write_jsonl(root / "data/prepared/train.jsonl", [triage_row(i) for i in range(8)])
    write_jsonl(root / "data/prepared/val.jsonl", [triage_row(i) for i in range(50, 54)])
    write_meta(root / "data/prepared")
    return root


def _train(cwd):
    result = subprocess.run([sys.executable, str(REPO / "stages/train_lora.py")], cwd=cwd, capture_output=True,
                            text=True, env={**os.environ, "FTLAB_CACHE": str(cwd / ".cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_processes_train_the_same_adapter_as_one_at_the_same_global_batch(tmp_path, tiny_model_dir):
    two = _workdir(tmp_path / "two", tiny_model_dir, {"num_processes": 2, "multi_gpu": True}, batch=2)
    one = _workdir(tmp_path / "one", tiny_model_dir, None, batch=4)
    log = _train(two)
    _train(one)

    launched = next(line for line in log.stderr.splitlines() if line.startswith("launching: -m accelerate.commands.launch"))
    assert "--multi_gpu" in launched.split() and "--num_processes 2" in launched  # train.launch merged with the stage's
    m2, m1 = (json.loads((d / "metrics/train_lora.json").read_text()) for d in (two, one))
    assert m2["processes"] == 2 and m1["processes"] == 1
    assert m2["steps"] == m1["steps"] == 2  # 8 rows, 4 per optimizer step either way
    a2, a1 = (load_file(d / "models/lora/adapter_model.safetensors") for d in (two, one))
    assert a2.keys() == a1.keys()
    assert any(v.abs().sum() > 0 for k, v in a2.items() if "lora_B" in k)  # it trained
    for k in a1:
        assert torch.allclose(a2[k], a1[k], atol=1e-5), k
    assert abs(m2["train_loss"] - m1["train_loss"]) < 1e-4 and abs(m2["eval_loss"] - m1["eval_loss"]) < 1e-4
    # One process wrote the curves: every step once, and no scratch or checkpoints left behind.
    losses = (two / "dvclive/train_lora/plots/metrics/loss.tsv").read_text().splitlines()[1:]
    assert [int(line.split("\t")[0]) for line in losses] == [1, 2]
    assert not list((two / "models").glob(".lora-work-*"))
    assert not any((two / ".cache/checkpoints/train_lora").iterdir())


@pytest.mark.parametrize("launch, expected", [
    ({"num_processes": 2, "multi_gpus": True}, "train_lora.launch.multi_gpus: not an `accelerate launch` option (did you mean 'multi_gpu'?)"),
    ({"num_processes": "two"}, "train_lora.launch: argument --num_processes"),
    ({"num_processes": 0}, "train_lora.launch.num_processes: 0 is out of range"),
    ({"num_processes": 2}, "train_lora.launch: num_processes 2 needs multi_gpu: true"),
    ({"use_fsdp": "yes"}, "train_lora.launch.use_fsdp: a switch: write true or false"),
    ({"num_processes": 1, "multi_gpu": True}, "train_lora.launch: multi_gpu would be ignored"),
    ({"num_processes": 2, "config_file": "x.yaml"}, "train_lora.launch.config_file: not an `accelerate launch` option"),
    ({"num_processes": 2, "module": True}, "train_lora.launch.module: not an `accelerate launch` option"),
])
def test_bad_launch_keys_name_the_key(launch, expected):
    data = repo_params()
    data["train_lora"]["launch"] = launch
    with pytest.raises(params.ParamsError) as e:
        params.parse("train_lora", data)
    assert expected in str(e.value)


def test_on_cuda_overrides_apply_only_on_cuda_and_are_checked():
    data = repo_params()
    p = params.parse("train_lora", data)
    assert p.for_device(False) is p
    gpu = p.for_device(True)
    assert gpu.sft["per_device_train_batch_size"] == p.on_cuda.sft["per_device_train_batch_size"]
    assert gpu.sft["learning_rate"] == p.on_cuda.sft["learning_rate"] != p.sft["learning_rate"]
    assert gpu.sft["seed"] == p.sft["seed"] and "seed" not in p.on_cuda.sft  # keys only in sft survive
    assert gpu.model.attn_implementation == "sdpa" and p.model.attn_implementation is None
    q = params.parse("train_qlora", data)
    assert q.max_train_rows == 48 and q.for_device(True).max_train_rows is None  # an explicit null: every row
    q = q.for_device(True)
    assert q.bnb["bnb_4bit_compute_dtype"] == "bfloat16" and q.bnb["load_in_4bit"] is True
    data["train_lora"]["on_cuda"]["sft"]["per_device_train_batchsize"] = 8
    with pytest.raises(params.ParamsError, match="train_lora.on_cuda.sft.per_device_train_batchsize: not a SFTConfig"):
        params.parse("train_lora", data)
    data = repo_params()
    data["train_lora"]["on_cuda"]["bnb"] = {"load_in_4bit": True}
    with pytest.raises(params.ParamsError, match="train_lora.on_cuda.bnb: there is no `bnb:` section"):
        params.parse("train_lora", data)


def test_fsdp_with_an_8bit_optimizer_is_refused_before_any_work():
    data = repo_params()
    data["train_qlora"]["launch"] = {"num_processes": 2, "use_fsdp": True, "fsdp_version": 2}
    with pytest.raises(params.ParamsError, match="train_qlora.sft.optim: paged_adamw_8bit cannot update FSDP"):
        params.parse("train_qlora", data)
    data["train_qlora"]["sft"]["optim"] = "paged_adamw_32bit"  # any bitsandbytes optimizer
    with pytest.raises(params.ParamsError, match="paged_adamw_32bit cannot update FSDP"):
        params.parse("train_qlora", data)
    data["train_qlora"]["sft"]["optim"] = "adamw_torch"
    assert params.parse("train_qlora", data).num_processes == 2
