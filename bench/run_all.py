"""python bench/run_all.py [--groups lora05,gen,qlora7] [--out bench/out] [--results bench/results.json]

Runs the seed's settings and the project's fast settings side by side, each case in its own child
process (bench/train_throughput.py, bench/gen_throughput.py) so that peak memory and compilation
state are per case, then prints one table (tokens/s non-pad, MFU, peak GiB, final loss) and writes
--results (a list of {name, tokens_per_s | new_tokens_per_s, peak_gib, mfu, final_loss, ...}) and
<out>/table.md. A case that fails or runs out of memory is a row with its error, not a crash.

MFU = 4 x N_matmul x tokens/s / 989e12 for LoRA/QLoRA training (frozen base: forward 2N + backward
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
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

# --- the settings, as SFTConfig keywords (what params.yaml's sft: takes) ---------------------------------
SEED = {}  # train_throughput.SEED_SFT: lr 2e-4, batch 4 x accum 4, activation checkpointing (TRL default), max_length 1024
FAST_LORA = {  # padding-free rows, one micro-batch of 16 rows per optimizer step, no recomputation
    "padding_free": True, "max_length": None, "per_device_train_batch_size": 16, "gradient_accumulation_steps": 1,
    "activation_checkpointing": False,
}
QSEED = {"optim": "paged_adamw_8bit"}
QFAST = {"optim": "paged_adamw_8bit", "activation_checkpointing": False, "gradient_accumulation_steps": 1}
QMEM = {"optim": "paged_adamw_8bit", "activation_checkpointing": True, "activation_offloading": True}


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

    def child(cmd, name):
        t = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            p = subprocess.run(cmd, env=env, cwd=HERE.parent, timeout=a.timeout, capture_output=True, text=True)
            log.write(f"== {name} rc={p.returncode}\n{p.stdout}\n{p.stderr[-20000:]}\n")
            tail = [l for l in p.stdout.splitlines() if l.startswith("|")][-1:] or p.stderr.strip().splitlines()[-3:]
            print("\n".join(tail), f"({time.perf_counter() - t:.0f}s, rc {p.returncode})", flush=True)
            return None if p.returncode == 0 else f"rc {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1][:200]}"
        except subprocess.TimeoutExpired:
            log.write(f"== {name} timeout after {a.timeout}s\n")
            print(f"timeout after {a.timeout}s", flush=True)
            return f"timeout after {a.timeout}s"
        finally:
            log.flush()

    failed = {}
    groups = a.groups.split(",")
    for g in groups:
        if a.report_only:
            break
        if g in ("lora05", "lora05x", "qlora7"):
            for name, args in {"lora05": lora05, "lora05x": lora05x, "qlora7": qlora7}[g]():
                if only and name not in only:
                    continue
                err = child([sys.executable, str(HERE / "train_throughput.py"), "--name", name, "--json", str(tj), *args], name)
                if err:
                    failed[name] = err
        elif g == "gen":
            if only and "gen" not in only:
                continue
            err = child([sys.executable, str(HERE / "gen_throughput.py"), "--json", str(gj)], "gen")
            if err:
                failed["gen"] = err

    train = json.loads(tj.read_text()) if tj.is_file() else []
    gen = json.loads(gj.read_text()) if gj.is_file() else []
    rows = []
    for r in train:
        rows.append({k: r.get(k) for k in ("name", "tokens_per_s", "peak_gib", "mfu", "final_loss", "steps", "error",
                                           "sft", "lora", "bnb", "attn", "rows", "fixed_len", "no_kbit_upcast", "run", "losses")})
    for r in gen:
        rows.append({k: r.get(k) for k in ("name", "new_tokens_per_s", "peak_gib", "mfu", "final_loss", "prompts",
                                           "batch", "len_range", "seconds", "identical", "first_s", "run", "error")})
    for name, err in failed.items():
        if not any(r["name"] == name for r in rows):
            rows.append({"name": name, "error": err})

    # Loss curves: the fast settings against the seed's on the same rows, step by step
    by = {r["name"]: r for r in rows}
    notes = []
    seed = by.get("0.5b-lora-seed", {}).get("losses")
    for other in ("0.5b-lora-fast", "0.5b-lora-pad16-sdpa", "0.5b-lora-fast-compile"):
        cur = by.get(other, {}).get("losses")
        if seed and cur:
            s, c = dict(seed), dict(cur)
            common_steps = sorted(set(s) & set(c))
            d = [abs(s[k] - c[k]) for k in common_steps]
            steps_noise = [abs(s[k] - s[k - 1]) for k in common_steps if k - 1 in s]
            notes.append(f"loss curve {other} vs 0.5b-lora-seed over {len(d)} steps: max |diff| {max(d):.4f}, "
                         f"mean |diff| {sum(d) / len(d):.4f} (seed's mean step-to-step change {sum(steps_noise) / max(1, len(steps_noise)):.4f}; "
                         f"first/last seed loss {seed[0][1]:.3f}/{seed[-1][1]:.3f})")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(rows, indent=1) + "\n")
    table = common.fmt_table(
        [{**r, "tps": r.get("tokens_per_s") or r.get("new_tokens_per_s"),
          "unit": "new tok/s" if "new_tokens_per_s" in r else "tok/s"} for r in rows],
        [("name", "case", ""), ("run", "cmd", ""), ("tps", "tokens/s (non-pad; gen: new)", ",.0f"), ("mfu", "MFU (989 TF)", ".3f"),
         ("peak_gib", "peak GiB", ".2f"), ("final_loss", "final loss", ".4f"), ("identical", "gen = single", ""),
         ("error", "error", "")])
    text = (f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\ncard: {vers.get('gpu')}\n"
            f"versions: {json.dumps(vers)}\ncommand: {' '.join(sys.argv)}\n\n{table}\n\n" + "\n".join(notes) + "\n")
    (out / "table.md").write_text(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
