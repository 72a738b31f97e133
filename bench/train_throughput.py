"""python -m bench.train_throughput --name 0.5b-lora-seed --model 0.5b --mode lora --rows 640 [--sft JSON] [--attn sdpa]

One LoRA or QLoRA training run of TRL's SFTTrainer on a random-weight Qwen2.5 model (built from config,
no hub) and synthetic pre-tokenized rows (lognormal lengths, median 300 tokens, the last third of each
row is the completion that the loss is on, as in the project's prompt/completion rows), the same
recipe as the stages, built by ftlab.train.recipe: `--sft` are trl.SFTConfig keywords, `--lora` peft.LoraConfig keywords,
`--bnb` transformers.BitsAndBytesConfig keywords (QLoRA), `--attn` the from_pretrained
attn_implementation. Prints one table row and appends a JSON record to --json (default
bench/out/train.json):
  tokens_per_s: non-pad tokens per second, timed from the end of step --skip to the end of the last
                step (CUDA-synchronized), so start-up and compilation are left out;
  mfu:          4 x N_matmul x tokens_per_s / 989e12 (see common.train_mfu);
  peak_gib:     torch.cuda.max_memory_allocated() over training, in GiB;
  final_loss:   mean of the last 5 logged training losses (logging every optimizer step); the whole
                per-step curve is in `losses`.
"""
import argparse
import json
import os
import tempfile
import time


import torch

from bench import common
from ftlab.train import recipe

SEED_SFT = {  # the seed's GPU recipe (params.yaml comments) on TRL 1.16 defaults (checkpointing on)
    "learning_rate": 2.0e-4, "warmup_steps": 0.03, "lr_scheduler_type": "linear",
    "per_device_train_batch_size": 4, "gradient_accumulation_steps": 4, "num_train_epochs": 1,
    "activation_checkpointing": True, "max_length": 1024, "logging_steps": 1, "report_to": "none", "seed": 42,
}
SEED_LORA = {"lora": {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "bias": "none", "task_type": "CAUSAL_LM",
                      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
             "qlora": {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "bias": "none", "task_type": "CAUSAL_LM",
                       "target_modules": "all-linear"}}
SEED_BNB = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
            "bnb_4bit_compute_dtype": "bfloat16"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    ap.add_argument("--name", required=True)
    ap.add_argument("--model", default="0.5b", choices=list(common.CONFIGS))
    ap.add_argument("--mode", default="lora", choices=["lora", "qlora"])
    ap.add_argument("--rows", type=int, default=640)
    ap.add_argument("--fixed-len", type=int, default=None, help="every row exactly this many tokens")
    ap.add_argument("--median", type=int, default=300, help="median row length (lognormal, sigma 0.5)")
    ap.add_argument("--attn", default="sdpa", help="attn_implementation: sdpa | flex_attention | eager ...")
    ap.add_argument("--sft", default="{}", help="JSON: SFTConfig keywords over the seed's")
    ap.add_argument("--lora", default="{}", help="JSON: LoraConfig keywords over the seed's")
    ap.add_argument("--bnb", default="{}", help="JSON: BitsAndBytesConfig keywords over the seed's")
    ap.add_argument("--no-kbit-upcast", action="store_true",
                    help="QLoRA: skip prepare_model_for_kbit_training's fp32 upcast (only enable input grads)")
    ap.add_argument("--loss-chunk", type=int, default=None,
                    help="tokens per chunk of TRL's fused LM head + loss (trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE; TRL's default 32768)")
    ap.add_argument("--mlp-chunk", type=int, default=None,
                    help="run each layer's MLP this many tokens at a time, recomputed in backward (ftlab.train.patches.chunk_mlps, "
                         "params.yaml mlp_chunk_tokens)")
    ap.add_argument("--no-input-cast", action="store_true",
                    help="peft.helpers.disable_input_dtype_casting during training: under bf16 autocast PEFT's cast of "
                         "each LoRA input to the adapter's float32 is copies that change no value (the stages do this)")
    ap.add_argument("--profile", type=int, default=0,
                    help="profile this many optimizer steps after --skip with torch.profiler and print the top GPU kernels "
                         "(slows those steps: a profiling case's tokens/s is not a throughput figure)")
    ap.add_argument("--skip", type=int, default=3, help="optimizer steps left out of the timing")
    ap.add_argument("--json", default="bench/out/train.json")
    ap.add_argument("--cpu", action="store_true", help="smoke test on the CPU (tiny model)")
    a = ap.parse_args(argv)

    from transformers import TrainerCallback, set_seed

    sft = {**SEED_SFT, **json.loads(a.sft)}
    lora = {**SEED_LORA[a.mode], **json.loads(a.lora)}
    bnb = {**SEED_BNB, **json.loads(a.bnb)}
    cuda = torch.cuda.is_available() and not a.cpu
    dev = "cuda" if cuda else "cpu"
    # Under `accelerate launch` (issue 6): one GPU per process; process 0 reports. tokens/s counts every
    # process's tokens (TRL gathers num_tokens); peak GiB is per GPU (process 0's; the max over GPUs in peak_gib_max).
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if cuda and "LOCAL_RANK" in os.environ:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    if a.loss_chunk:
        import trl.trainer.utils as trl_utils

        trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = a.loss_chunk

    data, total_tokens = common.train_rows(a.rows, seed=0, fixed=a.fixed_len, median=a.median)
    tokenizer = common.stub_tokenizer()

    work = tempfile.mkdtemp(prefix="bench-train-")
    args = recipe.sft_config({"completion_only_loss": True, "save_strategy": "no", "disable_tqdm": True, **sft}, work,
                             cuda=cuda)
    set_seed(args.seed)
    t_load = time.perf_counter()
    if a.mode == "qlora":
        model = recipe.prepare_kbit(common.quantized_model(a.model, bnb, attn=a.attn), upcast=not a.no_kbit_upcast,
                                    checkpointing=args.activation_checkpointing)
    else:
        model = common.build_model(a.model, a.attn, device=dev, dtype=torch.bfloat16 if cuda else torch.float32)
    t_load = time.perf_counter() - t_load

    class Clock(TrainerCallback):
        def __init__(self):
            self.t = {}

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.t[state.global_step] = time.perf_counter()

    class Profile(TrainerCallback):
        """torch.profiler over optimizer steps skip+1 .. skip+N: where the GPU time goes."""

        def __init__(self):
            self.prof = None

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == a.skip and self.prof is None:
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                               torch.profiler.ProfilerActivity.CUDA])
                self.prof.__enter__()

        def on_step_end(self, args, state, control, **kw):
            if self.prof is not None and state.global_step == a.skip + a.profile:
                if cuda:
                    torch.cuda.synchronize()
                self.prof.__exit__(None, None, None)
                print(self.prof.key_averages().table(sort_by="self_cuda_time_total" if cuda else "self_cpu_time_total", row_limit=30, max_name_column_width=70),
                      flush=True)
                self.prof = False

    clock = Clock()
    trainer = recipe.build_trainer(args, model, tokenizer, data, None, lora, mlp_chunk_tokens=a.mlp_chunk,
                                   callbacks=[clock] + ([Profile()] if a.profile else []))
    if a.mlp_chunk:
        print(f"chunk_mlps: each layer's MLP in pieces of {a.mlp_chunk} tokens", flush=True)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    error = None
    t0 = time.perf_counter()
    try:
        # --no-input-cast: what the stages do under autocast (no float32 copy of each LoRA input)
        recipe.fit(trainer, input_cast=not a.no_input_cast)
    except torch.OutOfMemoryError as e:
        error = f"OOM: {str(e).splitlines()[0][:160]}"
    wall = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    peak_max = peak
    if world > 1 and torch.distributed.is_initialized():
        t = torch.tensor([peak or 0.0], device=dev)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        peak_max = float(t)
    if rank != 0:
        return None

    logs = [h for h in trainer.state.log_history if "loss" in h and "num_tokens" in h]
    tok = {h["step"]: h["num_tokens"] for h in logs}
    losses = [(h["step"], round(h["loss"], 5)) for h in logs]
    steps = sorted(set(tok) & set(clock.t))
    tps = None
    if steps:
        last = steps[-1]
        first = max([s for s in steps if s <= a.skip], default=None)
        if first is not None and first < last:
            tps = (tok[last] - tok[first]) / (clock.t[last] - clock.t[first])
        else:
            tps = tok[last] / wall
    final = sum(l for _, l in losses[-5:]) / len(losses[-5:]) if losses else None
    rec = {
        "name": a.name, "model": a.model, "mode": a.mode, "attn": a.attn,
        "tokens_per_s": round(tps, 1) if tps else None,
        "mfu": round(common.train_mfu(a.model, tps) / world, 4) if tps and a.model != "tiny" else None,  # per GPU
        "peak_gib": round(peak, 2) if peak is not None else None,
        "peak_gib_max": round(peak_max, 2) if peak_max is not None else None, "processes": world,
        "loss_chunk": a.loss_chunk, "mlp_chunk": a.mlp_chunk,
        "no_input_cast": a.no_input_cast or None,
        "final_loss": round(final, 4) if final is not None else None,
        "steps": trainer.state.global_step, "rows": a.rows, "fixed_len": a.fixed_len,
        "dataset_tokens": total_tokens, "timed_steps": (steps[-1] - a.skip) if steps else 0,
        "train_wall_s": round(wall, 1), "load_s": round(t_load, 1), "error": error,
        "sft": sft, "lora": lora, "bnb": bnb if a.mode == "qlora" else None,
        "no_kbit_upcast": a.no_kbit_upcast or None, "losses": losses,
    }
    common.append_json(a.json, rec)
    print(common.fmt_table([rec], [("name", "case", ""), ("tokens_per_s", "tokens/s", ",.0f"), ("mfu", "MFU", ".3f"),
                                   ("peak_gib", "peak GiB", ".2f"), ("final_loss", "final loss", ".4f"),
                                   ("steps", "steps", "d"), ("error", "error", "")]), flush=True)
    return rec


if __name__ == "__main__":
    main()
