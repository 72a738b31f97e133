"""python -m bench.stage_gpu --name 0.5b-lora-stage-1gpu [--size 0.5b] [--stage train_lora] [--set sft.KEY=VALUE ...]

ftlab's own training recipe, as a user gets it: `ftlab.train.train` with params.yaml's section for
--stage (its `on_cuda:` GPU profile merged in, its `launch:` honoured) on the project's
data/prepared rows, with the base model swapped for a random-weight Qwen2.5 directory of --size
(built from config, no hub; the tokenizer is the embedded SmolLM2's, carried in gpu/tok, whose ids
all fit Qwen's vocabulary). `--set` overrides keys of the section (YAML values), e.g.
`--set launch.num_processes=2 --set launch.multi_gpu=true`. When `launch.num_processes` > 1 the
script re-runs itself under `accelerate launch`, as the stage does.

Prints and appends to --json (default bench/out/stage.json) one record: tokens_per_s (the stage's
train_tokens_per_s: every process's non-pad tokens over the whole Trainer.train, start-up and
compilation included), peak_gib (process 0's GPU), train/eval loss, steps, processes.
Differs from `python stages/train_lora.py` only in not logging to dvclive (not installed there).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

import torch
import yaml

from bench import common
from ftlab import device, params, train


def random_base(size: str, tokenizer_dir: Path) -> Path:
    """A saved random-weight Qwen2.5 of `size` (bf16) with the carried tokenizer, built once."""
    path = Path(os.environ.get("BENCH_CKPT", "/tmp/bench-ckpt")) / f"qwen2.5-{size}-random-stage"
    if not (path / "config.json").is_file():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tmp = Path(tempfile.mkdtemp(dir=path.parent if path.parent.exists() else None))
        torch.manual_seed(0)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = AutoModelForCausalLM.from_config(common.qwen_config(size), dtype=torch.bfloat16)
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(tmp)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--size", default="0.5b", choices=list(common.CONFIGS))
    ap.add_argument("--stage", default="train_lora", choices=["train_lora", "train_qlora"])
    ap.add_argument("--set", action="append", default=[], help="KEY=YAML within the section (dotted)")
    ap.add_argument("--tokenizer", default="gpu/tok")
    ap.add_argument("--json", default="bench/out/stage.json")
    a = ap.parse_args()
    data = params.read_yaml()
    section = data[a.stage]
    for item in a.set:
        key, value = item.split("=", 1)
        *parents, last = key.split(".")
        node = section
        for k in parents:
            if not isinstance(node.get(k), dict):
                node[k] = {}
            node = node[k]
        node[last] = yaml.safe_load(value)
    # As the stage (ftlab.train.launch.main): as many GPUs as the run launches on, claimed before CUDA starts
    device.claim_gpus(max(1, (params.raw_section(a.stage, data).get("launch") or {}).get("num_processes") or 1))
    launched = "LOCAL_RANK" in os.environ
    if not launched:
        section["base_model"] = {"source": "local", "path": str(random_base(a.size, Path(a.tokenizer))), "revision": None}
    else:
        section["base_model"] = {"source": "local", "path": os.environ["BENCH_BASE"], "revision": None}
    p = params.parse(a.stage, data)
    if p.num_processes > 1 and not launched:
        os.environ["BENCH_BASE"] = p.base_model.path
        argv = [sys.executable, "-m", "accelerate.commands.launch", *params.launch_argv("launch", p.launch),
                __file__, *sys.argv[1:]]
        print("launching:", " ".join(argv[1:]), flush=True)
        os.execv(sys.executable, argv)

    work = Path(f"/tmp/stage-bench/{a.name}")
    if int(os.environ.get("RANK", 0)) == 0:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.reset_peak_memory_stats()
    trainer, m = train.train(Path("data/prepared"), work / "adapter", work / "metrics.json", p,
                             checkpoint_root=Path(f"/tmp/stage-bench-ckpt/{a.name}"))
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    if int(os.environ.get("RANK", 0)) != 0:
        return
    eff = p.for_device(torch.cuda.is_available())
    from safetensors.torch import load_file

    adapter = load_file(work / "adapter" / "adapter_model.safetensors")  # what the stage saved (FSDP: gathered)
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    rec = {"name": a.name, "tokens_per_s": m["train_tokens_per_s"], "peak_gib": round(peak, 2) if peak else None,
           "mfu": round(common.train_mfu(a.size, m["train_tokens_per_s"]) / m["processes"], 4) if a.size != "tiny" and m["train_tokens_per_s"] else None,
           "final_loss": m["train_loss"], "eval_loss": m["eval_loss"], "steps": m["steps"], "processes": m["processes"],
           "train_seconds": m["train_seconds"], "train_rows": m["train_rows"], "stage": a.stage, "set": a.set,
           "sft": eff.sft, "model": eff.model.model_dump(), "launch": p.launch, "bnb": eff.bnb,
           "adapter_tensors": len(adapter), "lora_b_trained": sum(bool(v.abs().sum() > 0) for v in lora_b),
           "losses": [(h["step"], round(h["loss"], 5)) for h in trainer.state.log_history if "loss" in h]}
    common.append_json(a.json, rec)
    print(json.dumps({k: v for k, v in rec.items() if k != "losses"}), flush=True)


if __name__ == "__main__":
    main()
