"""python -m bench.run_all [--groups lora05,gen,qlora7] [--out bench/out] [--results bench/results.json]

Runs the seed's settings and the project's fast settings side by side, each case in its own child
process (bench/train_throughput.py, bench/gen_throughput.py) so that peak memory and compilation
state are per case, then prints one table (tokens/s non-pad, MFU, peak GiB, final loss) and writes
--results (a list of {name, tokens_per_s | new_tokens_per_s, peak_gib, mfu, final_loss, ...}) and
<out>/table.md. A case that fails or runs out of memory is a row with its error, not a crash.

MFU = 4 x N_matmul x tokens/s / (989e12 x GPUs) for LoRA/QLoRA training (frozen base: forward 2N + backward
to the activations 2N; N_matmul = decoder Linear weights + LM head: 0.5B 475M, 7B 7.07B; attention
scores and recomputation not counted) and 2 x N_matmul x (prompt + new tokens)/s / 989e12 for
generation; 989 TFLOP/s is the H200's dense bf16 datasheet peak (the measured matmul ceiling is
~790, i.e. divide by 0.8 for MFU against it).

Groups (about 5, 3 and 8 minutes on one H200):
  lora05  Qwen2.5-0.5B LoRA q/k/v/o: seed settings vs fast settings on the same 640 rows (same rows per
          optimizer step, so the loss curves are comparable step by step)
  lora05x variants: padded batch 16 with sdpa, larger batches, packing, torch.compile
  gen     0.5B greedy generation, 512 prompts of 150-400 tokens, 128 new tokens
  qlora7  Qwen2.5-7B QLoRA nf4 all-linear: seed settings, rows of 2048, memory and longest-row cases
  multi, mem9, long9, speed9, speed9b, curve9: later sessions' groups (bench/run_multi.sh, each function's docstring)
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
from bench import common

# --- the settings, as SFTConfig keywords (what params.yaml's sft: takes) ---------------------------------
SEED = {}  # train_throughput.SEED_SFT: lr 2e-4, batch 4 x accum 4, activation checkpointing (TRL default), max_length 1024
FAST_LORA = {  # padding-free rows, one micro-batch of 16 rows per optimizer step, no recomputation
    "padding_free": True, "max_length": None, "per_device_train_batch_size": 16, "gradient_accumulation_steps": 1,
    "activation_checkpointing": False,
}
QSEED = {"optim": "paged_adamw_8bit"}
QFAST = {"optim": "paged_adamw_8bit", "activation_checkpointing": False, "gradient_accumulation_steps": 1}
QMEM = {"optim": "paged_adamw_8bit", "activation_checkpointing": True, "activation_offloading": True}
# Session 4: the 7B QLoRA on_cuda profile of params.yaml (8 x 2, paged 8-bit, no recomputation) on rows of 2048;
# the 0.5B at 256 rows a step (padding-free, flex); Liger's kernels through TRL
QSHIPPED = {"optim": "paged_adamw_8bit", "activation_checkpointing": False, "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 2, "max_length": 2048}
B256 = {**FAST_LORA, "per_device_train_batch_size": 256}
LIGER = {"use_liger_kernel": True}


def lora05():
    j = json.dumps
    return [
        ("0.5b-lora-seed", ["--model", "0.5b", "--rows", "640", "--skip", "3"]),
        ("0.5b-lora-fast", ["--model", "0.5b", "--rows", "640", "--attn", "flex_attention", "--skip", "6",
                            "--sft", j(FAST_LORA)]),
    ]


def lora05x():
    j = json.dumps
    return [
        ("0.5b-lora-pad16-sdpa", ["--model", "0.5b", "--rows", "640", "--skip", "6", "--sft",
                                  j({**FAST_LORA, "padding_free": False, "max_length": 1024})]),
        ("0.5b-lora-fast-b64", ["--model", "0.5b", "--rows", "4096", "--attn", "flex_attention", "--skip", "8",
                                "--sft", j({**FAST_LORA, "per_device_train_batch_size": 64})]),
        ("0.5b-lora-fast-b256", ["--model", "0.5b", "--rows", "8192", "--attn", "flex_attention", "--skip", "6",
                                 "--sft", j({**FAST_LORA, "per_device_train_batch_size": 256})]),
        ("0.5b-lora-pack16k", ["--model", "0.5b", "--rows", "4096", "--attn", "flex_attention", "--skip", "8",
                               "--sft", j({**FAST_LORA, "packing": True, "packing_strategy": "bfd", "max_length": 16384,
                                           "per_device_train_batch_size": 2, "padding_free": False})]),
        ("0.5b-lora-fast-compile", ["--model", "0.5b", "--rows", "640", "--attn", "flex_attention", "--skip", "12",
                                    "--sft", j({**FAST_LORA, "torch_compile": True})]),
    ]


def qlora7():
    j = json.dumps
    q = ["--model", "7b", "--mode", "qlora"]
    f2048 = ["--fixed-len", "2048"]
    return [
        ("7b-qlora-seed", q + ["--rows", "96", "--skip", "2", "--sft", j(QSEED)]),
        ("7b-qlora-seed-2048", q + f2048 + ["--rows", "24", "--skip", "2", "--sft",
                                            j({**QSEED, "per_device_train_batch_size": 1, "max_length": 2048})]),
        ("7b-qlora-fast-2048", q + f2048 + ["--rows", "40", "--skip", "3", "--sft",
                                            j({**QFAST, "per_device_train_batch_size": 4, "max_length": 2048})]),
        ("7b-qlora-fast-2048-b6", q + f2048 + ["--rows", "48", "--skip", "3", "--sft",
                                               j({**QFAST, "per_device_train_batch_size": 6, "max_length": 2048})]),
        ("7b-qlora-fast-2048-b8", q + f2048 + ["--rows", "64", "--skip", "3", "--sft",
                                               j({**QFAST, "per_device_train_batch_size": 8, "max_length": 2048})]),
        ("7b-qlora-long-65536", q + ["--rows", "3", "--fixed-len", "65536", "--skip", "1", "--no-kbit-upcast", "--sft",
                                     j({**QMEM, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1,
                                        "max_length": 65536})]),
        ("7b-qlora-mem-2048", q + f2048 + ["--rows", "24", "--skip", "2", "--no-kbit-upcast", "--sft",
                                           j({**QMEM, "per_device_train_batch_size": 1, "max_length": 2048})]),
        ("7b-qlora-mem-2048-upcast", q + f2048 + ["--rows", "24", "--skip", "2", "--sft",
                                                  j({**QMEM, "per_device_train_batch_size": 1, "max_length": 2048})]),
    ]


# --- issue 6: two GPUs of one host (accelerate launch; kind nvidia-h200-x2) ----------------------------------
LAUNCH2 = ["-m", "accelerate.commands.launch", "--num_processes", "2", "--main_process_port", "29517"]
DDP = LAUNCH2 + ["--multi_gpu"]
# FSDP2 + QLoRA: 4-bit weights stored as bf16 (bnb_4bit_quant_storage) so FSDP can shard them with the rest
FSDP = LAUNCH2 + ["--use_fsdp", "--fsdp_version", "2", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
                  "--fsdp_transformer_layer_cls_to_wrap", "Qwen2DecoderLayer", "--fsdp_cpu_ram_efficient_loading", "false",
                  "--fsdp_reshard_after_forward", "true", "--fsdp_state_dict_type", "SHARDED_STATE_DICT"]
PAD16 = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "activation_checkpointing": False,
         "ddp_find_unused_parameters": False}  # params.yaml train_lora.on_cuda: padded, sdpa, 16 rows per step
QSHARD = {"optim": "adamw_torch", "activation_checkpointing": False, "per_device_train_batch_size": 2,
          "gradient_accumulation_steps": 1, "max_length": 2048}


def multi():
    """(name, args, launcher): the same settings on 1 GPU and on 2, and 2 GPUs at 1 GPU's global batch."""
    j = json.dumps
    q = ["--model", "7b", "--mode", "qlora", "--fixed-len", "2048", "--no-kbit-upcast",
         "--bnb", j({"bnb_4bit_quant_storage": "bfloat16"})]
    return [
        ("0.5b-lora-pad16-1gpu", ["--model", "0.5b", "--rows", "1280", "--skip", "6", "--sft", j(PAD16)], None),
        ("0.5b-lora-pad16-ddp-2gpu", ["--model", "0.5b", "--rows", "2560", "--skip", "6", "--sft", j(PAD16)], DDP),
        ("0.5b-lora-pad8-ddp-2gpu", ["--model", "0.5b", "--rows", "1280", "--skip", "6", "--sft",
                                     j({**PAD16, "per_device_train_batch_size": 8})], DDP),
        ("7b-qlora-2048-b2-1gpu", q + ["--rows", "40", "--skip", "3", "--sft", j(QSHARD)], None),
        ("7b-qlora-2048-b2-fsdp-2gpu", q + ["--rows", "80", "--skip", "3", "--sft", j(QSHARD)], FSDP),
        # issue 9: the same 1-GPU layout (bf16 non-4-bit weights, no recomputation) at larger batches
        ("7b-qlora-2048-b4-1gpu", q + ["--rows", "64", "--skip", "3", "--sft", j({**QSHARD, "per_device_train_batch_size": 4})], None),
        ("7b-qlora-2048-b8-1gpu", q + ["--rows", "96", "--skip", "3", "--sft", j({**QSHARD, "per_device_train_batch_size": 8})], None),
    ]


def mem9():
    """Issue 9 follow-up: TRL's fused LM head in chunks of 4,096 tokens instead of 32,768 (trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE; measured: no change in peak, so not an ftlab option)."""
    j = json.dumps
    q = ["--model", "7b", "--mode", "qlora", "--no-kbit-upcast", "--loss-chunk", "4096"]
    one = {**QMEM, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1}
    return [
        ("7b-qlora-long-65536-chunk4k", q + ["--rows", "3", "--fixed-len", "65536", "--skip", "1", "--sft",
                                             j({**one, "max_length": 65536})], None),
        ("7b-qlora-long-131072-chunk4k", q + ["--rows", "2", "--fixed-len", "131072", "--skip", "1", "--sft",
                                              j({**one, "max_length": 131072})], None),
        ("7b-qlora-mem-2048-chunk4k", q + ["--rows", "24", "--fixed-len", "2048", "--skip", "2", "--sft",
                                           j({**QMEM, "per_device_train_batch_size": 1, "max_length": 2048})], None),
    ]


def long9():
    """Issue 9, session 4: the longest row in 24 GiB with each layer's MLP in pieces of 4,096 tokens (ftlab's
    mlp_chunk_tokens), on top of checkpointing + activation offloading + bf16 non-4-bit weights; and the 7B
    QLoRA profile params.yaml ships (on_cuda: 8 rows x 2, paged 8-bit AdamW, bf16 compute, no recomputation)."""
    j = json.dumps
    q = ["--model", "7b", "--mode", "qlora", "--no-kbit-upcast"]
    one = {**QMEM, "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1}
    long = [(f"7b-qlora-long-{n}-mlp4k", q + ["--mlp-chunk", "4096", "--rows", str(3 if n < 98304 else 2), "--fixed-len", str(n), "--skip", "1",
                                              "--sft", j({**one, "max_length": n})], None) for n in (65536, 98304, 131072)]
    return long + [("7b-qlora-2048-shipped", q + ["--fixed-len", "2048", "--rows", "192", "--skip", "3", "--sft", j(QSHIPPED)], None)]


def speed9():
    """Issue 9, session 4: the 0.5B with Liger's Triton kernels (RMSNorm, SwiGLU, RoPE through TRL's use_liger_kernel;
    TRL keeps its own fused LM head) at 256 rows a step (padding-free, flex) and at the profile's 16 padded rows,
    each beside the same settings without them, and one profiled case (where the GPU time goes)."""
    j = json.dumps
    r = ["--model", "0.5b", "--rows", "8192", "--skip", "6", "--attn", "flex_attention"]
    p16 = ["--model", "0.5b", "--rows", "1280", "--skip", "6"]
    return [
        ("0.5b-lora-fast-b256-s4", r + ["--sft", j(B256)], None),
        ("0.5b-lora-fast-b256-liger", r + ["--sft", j({**B256, **LIGER})], None),
        ("0.5b-lora-pad16-s4", p16 + ["--sft", j(PAD16)], None),
        ("0.5b-lora-pad16-liger", p16 + ["--sft", j({**PAD16, **LIGER})], None),
        ("0.5b-lora-fast-b256-profile", ["--model", "0.5b", "--rows", "4096", "--skip", "5", "--profile", "2",
                                         "--attn", "flex_attention", "--sft", j(B256)], None),
    ]


def speed9b():
    """Issue 9, session 4, second call: Liger + no float32 copy of each LoRA input (--no-input-cast, what ftlab.train.recipe.fit
    does under autocast), at 256 rows a step and at the profile's 16, the copy alone at 16 (same loss expected), and
    the shipped 7B QLoRA profile with both."""
    j = json.dumps
    nc = ["--no-input-cast"]
    return [
        ("0.5b-lora-fast-b256-liger-nocast", ["--model", "0.5b", "--rows", "8192", "--skip", "6", "--attn", "flex_attention",
                                              "--sft", j({**B256, **LIGER})] + nc, None),
        ("0.5b-lora-pad16-nocast", ["--model", "0.5b", "--rows", "1280", "--skip", "6", "--sft", j(PAD16)] + nc, None),
        ("0.5b-lora-pad16-liger-nocast", ["--model", "0.5b", "--rows", "1280", "--skip", "6", "--sft", j({**PAD16, **LIGER})] + nc, None),
        ("7b-qlora-2048-shipped-liger-nocast", ["--model", "7b", "--mode", "qlora", "--no-kbit-upcast", "--fixed-len", "2048",
                                                "--rows", "192", "--skip", "3", "--sft", j({**QSHIPPED, **LIGER})] + nc, None),
    ]


def curve9():
    """Issue 9, session 5: does 256 rows a step learn as much per row as the seed's 16? The same 8,192 rows in the same
    order (the sampler's permutation depends on the seed, not the batch size). Reference: 16 rows a step at the seed's
    lr 2e-4 (the seed's optimizer steps; padding-free only changes the layout: its per-step losses equal the seed's
    4 x 4 padded run, command 1), and again with seed 43 (run-to-run noise). Against it, the 123,787 tokens/s settings
    (256 rows, Liger, no input copies; lr 2e-4 is command 13's 0.5b-lora-fast-b256-liger-nocast) at lr x 4, 8, 16, and
    at x 8, 16 and 32 without warmup ("-w0"), and 128 rows a step at x 8 without warmup. Why "-w0": the seed's 3%
    warmup is 1 of 32 steps here, and a 1-step linear warmup gives the first step lr 0 (the first 256 rows unused).
    (An eval-loss curve on held-out rows every 256 rows trained took over 280 s a case on the H200 and was dropped:
    the rows are independent draws, so a step's training loss is already the loss on rows the adapter has not seen.)"""
    j = json.dumps
    r = ["--model", "0.5b", "--rows", "8192", "--attn", "flex_attention"]
    return [("0.5b-lora-curve-b16", r + ["--skip", "16", "--sft", j(FAST_LORA)], None),
            ("0.5b-lora-curve-b16-s43", r + ["--skip", "16", "--sft", j({**FAST_LORA, "seed": 43})], None)] + [
        (f"0.5b-lora-curve-b256-lr{lr:g}{'-w0' if w == 0 else ''}", r + ["--skip", "6", "--no-input-cast", "--sft",
                                                                   j({**B256, **LIGER, "learning_rate": lr, "warmup_steps": w})], None)
        for lr, w in ((8e-4, 0.03), (1.6e-3, 0.03), (3.2e-3, 0.03), (1.6e-3, 0), (3.2e-3, 0), (6.4e-3, 0))] + [
        ("0.5b-lora-curve-b128-lr0.0016-w0", r + ["--skip", "6", "--no-input-cast", "--sft", j(
            {**B256, **LIGER, "per_device_train_batch_size": 128, "learning_rate": 1.6e-3, "warmup_steps": 0})], None)]


CURVE_REF, CURVE_NOISE, CURVE_B256 = "0.5b-lora-curve-b16", "0.5b-lora-curve-b16-s43", "0.5b-lora-fast-b256-liger-nocast"
CURVE_AT = (0, 256, 512, 1024, 2048, 3072, 4096, 6144, 7936)


def curve_points(rec: dict, width: int = 256) -> dict:
    """Loss against rows trained on. Step s's loss is on rows the adapter has not seen yet (every row is a fresh draw
    from the same Zipf law), taken after (s - 1) x rows-per-step rows; the point at N is the mean over the steps that
    start within N - width/2 .. N + width/2 (one step at 256 rows a step, sixteen at 16; eight at N = 0)."""
    per = rec["sft"]["per_device_train_batch_size"] * rec["sft"]["gradient_accumulation_steps"] * (rec.get("processes") or 1)
    out = {}
    for n in range(0, rec["rows"], width):
        ls = [l for s, l in rec["losses"] if n - width // 2 <= (s - 1) * per < n + width // 2]
        if ls:
            out[n] = sum(ls) / len(ls)
    return out


def curve_notes(by: dict) -> list[str]:
    """The curve9 cases: loss against rows trained on, and each case's largest gap to the 16-row reference beside the
    reference's own gap between seeds 42 and 43 over the same points."""
    names = [n for n in (CURVE_REF, CURVE_NOISE, CURVE_B256) if by.get(n, {}).get("losses")]
    names += sorted((n for n in by if n.startswith(("0.5b-lora-curve-b256", "0.5b-lora-curve-b128")) and by[n].get("losses")),
                    key=lambda n: (by[n]["sft"]["per_device_train_batch_size"], n.endswith("-w0"), by[n]["sft"]["learning_rate"]))
    if CURVE_REF not in names:
        return []
    c = {n: curve_points(by[n]) for n in names}
    ref = c[CURVE_REF]
    lr = {n: by[n]["sft"].get("learning_rate") for n in names}
    lines = ["Loss against rows trained on (same 8,192 rows; a step's loss is on rows not yet trained on; 16-row runs "
             "averaged over the 16 steps around each point):", "",
             "| case | rows/step | lr | tokens/s | " + " | ".join(str(n) for n in CURVE_AT) + " |",
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in CURVE_AT) + " |"]
    for n in names:
        r = by[n]
        per = r["sft"]["per_device_train_batch_size"] * r["sft"]["gradient_accumulation_steps"]
        lines.append(f"| {n} | {per} | {lr[n]:g} | {r.get('tokens_per_s') or 0:,.0f} | "
                     + " | ".join(f"{c[n][k]:.3f}" if k in c[n] else "-" for k in CURVE_AT) + " |")
    lines.append("")
    for start in (0, 1024, 2048, 4096):
        pts = [k for k in ref if k >= start]

        def gap(n):
            return max(abs(c[n][k] - ref[k]) for k in pts) if all(k in c[n] for k in pts) else None

        parts = [f"{n.removeprefix('0.5b-lora-')} {gap(n):.3f}" for n in names[1:] if gap(n) is not None]
        lines.append(f"max |loss - {CURVE_REF}| from {start} rows trained on ({len(pts)} points): " + "; ".join(parts))
    if CURVE_NOISE in c:  # noise: the largest gap between the reference's two seeds anywhere on the curve
        noise = max(abs(c[CURVE_NOISE][k] - ref[k]) for k in ref if k in c[CURVE_NOISE])
        since = {n: min((k for k in ref if all(abs(c[n][m] - ref[m]) <= noise for m in ref if m >= k and m in c[n])), default=None)
                 for n in names[2:]}
        lines.append(f"within the seeds' noise ({noise:.3f}) from N rows trained on to the end: " + "; ".join(
            f"{n.removeprefix('0.5b-lora-')} {since[n] if since[n] is not None else 'never'}" for n in since))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", default="lora05,gen,lora05x,qlora7")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the table from <out>/*.json")
    ap.add_argument("--only", default="", help="comma-separated case names to run (default: all of the groups)")
    ap.add_argument("--out", default=str(HERE / "out"))
    ap.add_argument("--results", default=None, help="default: <out>/results.json")
    ap.add_argument("--timeout", type=int, default=420, help="seconds per case")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = Path(a.results or out / "results.json")
    tj, gj = out / "train.json", out / "gen.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    vpath = out / "versions.json"
    if a.report_only and vpath.is_file():
        vers = json.loads(vpath.read_text())
    else:
        vers = common.versions()
        vpath.write_text(json.dumps(vers) + "\n")
    print("versions:", json.dumps(vers), flush=True)
    only = set(filter(None, a.only.split(",")))
    log = open(out / "run_all.log", "a")

    def child(cmd, name, one_gpu=True):
        t = time.perf_counter()
        print(f"== {name}", flush=True)
        # One process sees one GPU: with more visible, Trainer would wrap the model in nn.DataParallel (TRL refuses)
        visible = env.get("CUDA_VISIBLE_DEVICES") or "0"
        try:
            p = subprocess.run(cmd, env={**env, "CUDA_VISIBLE_DEVICES": visible.split(",")[0]} if one_gpu else env, cwd=HERE.parent, timeout=a.timeout, capture_output=True, text=True)
            log.write(f"== {name} rc={p.returncode}\n{p.stdout}\n{p.stderr[-20000:]}\n")
            tail = [l for l in p.stdout.splitlines() if l.startswith("|")][-1:] or p.stderr.strip().splitlines()[-3:]
            print("\n".join(tail), f"({time.perf_counter() - t:.0f}s, rc {p.returncode})", flush=True)
            return None if p.returncode == 0 else f"rc {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1][:200]}"
        except subprocess.TimeoutExpired as e:  # keep what the case printed before it was stopped
            out_, err_ = (x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr))
            log.write(f"== {name} timeout after {a.timeout}s\n{out_[-20000:]}\n{err_[-20000:]}\n")
            print(f"timeout after {a.timeout}s", flush=True)
            return f"timeout after {a.timeout}s"
        finally:
            log.flush()

    failed = {}
    groups = a.groups.split(",")
    for g in groups:
        if a.report_only:
            break
        if g in ("lora05", "lora05x", "qlora7", "multi", "mem9", "long9", "speed9", "speed9b", "curve9"):
            cases = {"lora05": lora05, "lora05x": lora05x, "qlora7": qlora7, "multi": multi, "mem9": mem9,
                     "long9": long9, "speed9": speed9, "speed9b": speed9b, "curve9": curve9}[g]()
            for name, args, *launcher in cases:
                if only and name not in only:
                    continue
                prefix = [sys.executable, *(launcher[0] or [])] if launcher else [sys.executable]
                err = child([*prefix, "-m", "bench.train_throughput", "--name", name, "--json", str(tj), *args], name,
                            one_gpu=not (launcher and launcher[0]))
                if err:
                    failed[name] = err
        elif g == "gen":
            if only and "gen" not in only:
                continue
            err = child([sys.executable, "-m", "bench.gen_throughput", "--json", str(gj)], "gen")
            if err:
                failed["gen"] = err

    train = json.loads(tj.read_text()) if tj.is_file() else []
    gen = json.loads(gj.read_text()) if gj.is_file() else []
    rows = []
    for r in train:
        rows.append({k: r.get(k) for k in ("name", "tokens_per_s", "peak_gib", "mfu", "final_loss", "steps", "error",
                                           "sft", "lora", "bnb", "attn", "rows", "fixed_len", "no_kbit_upcast", "run", "losses",
                                           "processes", "peak_gib_max", "loss_chunk", "mlp_chunk", "no_input_cast") if k in r or k in ("name", "tokens_per_s")})
    for r in (json.loads((out / "stage.json").read_text()) if (out / "stage.json").is_file() else []):
        rows.append({k: r.get(k) for k in ("name", "tokens_per_s", "peak_gib", "mfu", "final_loss", "eval_loss", "steps",
                                           "processes", "train_seconds", "train_rows", "sft", "model", "launch", "run", "losses")})
    for r in gen:
        rows.append({k: r.get(k) for k in ("name", "new_tokens_per_s", "peak_gib", "mfu", "final_loss", "prompts",
                                           "batch", "len_range", "seconds", "identical", "first_s", "run", "error")})
    for name, err in failed.items():
        if not any(r["name"] == name for r in rows):
            rows.append({"name": name, "error": err})

    # 2 GPUs over 1, same per-GPU settings: the `scaling` field (issue 6)
    by = {r["name"]: r for r in rows}
    for r in rows:
        one = by.get(r["name"].replace("-ddp-2gpu", "-1gpu").replace("-fsdp-2gpu", "-1gpu"))
        if r.get("processes") == 2 and one is not None and one is not r and one.get("tokens_per_s") and r.get("tokens_per_s"):
            r["scaling"] = round(r["tokens_per_s"] / one["tokens_per_s"], 3)
    # Loss curves: the fast settings against the seed's on the same rows, step by step
    notes = []
    pairs = [("0.5b-lora-seed", o) for o in ("0.5b-lora-fast", "0.5b-lora-pad16-sdpa", "0.5b-lora-fast-compile")]
    pairs += [("0.5b-lora-pad16-1gpu", "0.5b-lora-pad8-ddp-2gpu")]
    for base, other in pairs:
        seed, cur = by.get(base, {}).get("losses"), by.get(other, {}).get("losses")
        if seed and cur:
            s, c = dict(seed), dict(cur)
            common_steps = sorted(set(s) & set(c))
            d = [abs(s[k] - c[k]) for k in common_steps]
            steps_noise = [abs(s[k] - s[k - 1]) for k in common_steps if k - 1 in s]
            notes.append(f"loss curve {other} vs {base} over {len(d)} steps: max |diff| {max(d):.4f}, "
                         f"mean |diff| {sum(d) / len(d):.4f} ({base}'s mean step-to-step change {sum(steps_noise) / max(1, len(steps_noise)):.4f}; "
                         f"its first/last loss {seed[0][1]:.3f}/{seed[-1][1]:.3f})")
    notes += [""] + curve_notes(by)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(rows, indent=1) + "\n")
    table = common.fmt_table(
        [{**r, "tps": r.get("tokens_per_s") or r.get("new_tokens_per_s"),
          "unit": "new tok/s" if "new_tokens_per_s" in r else "tok/s"} for r in rows],
        [("name", "case", ""), ("run", "cmd", ""), ("tps", "tokens/s (non-pad; gen: new)", ",.0f"), ("mfu", "MFU (989 TF)", ".3f"),
         ("peak_gib", "peak GiB", ".2f"), ("final_loss", "final loss", ".4f"), ("processes", "GPUs", ""),
         ("scaling", "x 1 GPU", ".2f"), ("identical", "gen = single", ""),
         ("error", "error", "")])
    text = (f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\ncard: {vers.get('gpu')}\n"
            f"versions: {json.dumps(vers)}\ncommand: {' '.join(sys.argv)}\n\n{table}\n\n" + "\n".join(notes) + "\n")
    (out / "table.md").write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
