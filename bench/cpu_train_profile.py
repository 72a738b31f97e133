"""python -m bench.cpu_train_profile [--rows 32] [--precisions float32,bf16] [--top 15] [--repeats N --no-profile]

Where train_lora's time goes on this machine's CPU (issue 32: "profile first"). Trains params.yaml's train_lora
recipe (the embedded model, data/prepared, the stage's own path: ftlab.train.train) on the first --rows training
rows once per precision (float32, as the stage runs; bf16: sft.bf16, CPU autocast to bfloat16), each under
torch.profiler, and prints one JSON line per run (seconds, tokens/s, loss, the share of CPU time in each kind of
operator) and the --top operators by self CPU time. No checkpoints, no validation passes. Needs `dvc repro prepare`.
Profiling slows a run a little: compare tokens/s only between these runs, not with the stage's own figure;
`--no-profile --repeats 3` times each precision three times without the profiler and prints the median.
"""
import argparse
import contextlib
import json
import statistics
import tempfile
from pathlib import Path

import torch

from bench import decision  # case_params: the decision sweep's way of applying overrides
from ftlab import params, train

# Operator kinds, by name (aten and the fused kernels oneDNN runs them as): what a speed-up would have to cut.
KINDS = {
    "matmul": ("addmm", "mm", "bmm", "matmul", "linear", "_mkldnn", "mkldnn"),
    "attention": (),  # by substring, below
    "optimizer": ("adam", "_foreach", "lerp", "addcmul", "addcdiv"),
    "copies and casts": ("copy_", "_to_copy", "to", "empty", "contiguous", "clone", "cat", "index"),
    "elementwise": ("mul", "add", "silu", "rsqrt", "pow", "mean", "neg", "exp", "sigmoid", "div", "sub"),
}


def kind(name: str) -> str:
    op = name.removeprefix("aten::").lower()
    if "attention" in op or "softmax" in op:  # _scaled_dot_product_flash_attention_for_cpu(_backward), ...
        return "attention"
    for k, keys in KINDS.items():
        if any(op == key or op.startswith(key) for key in keys):
            return k
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--precisions", default="float32,bf16", help="comma-separated: float32 | bf16")
    ap.add_argument("--top", type=int, default=15, help="operators listed per profiled run")
    ap.add_argument("--repeats", type=int, default=1, help="runs per precision (their median tokens/s is printed)")
    ap.add_argument("--no-profile", action="store_true", help="time only: no torch.profiler")
    args = ap.parse_args()
    base = params.load("train_lora")
    for precision in args.precisions.split(","):
        p = decision.case_params(base, {**decision.HARNESS, "max_train_rows": args.rows, "sft.bf16": precision == "bf16"})
        runs = []
        for _ in range(args.repeats):
            profiler = (contextlib.nullcontext() if args.no_profile
                        else torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]))
            with tempfile.TemporaryDirectory() as tmp, profiler as prof:
                _, m = train.train(Path("data/prepared"), Path(tmp) / "adapter", Path(tmp) / "m.json", p)
            runs.append(m)
            row = {"precision": precision, "rows": m["train_rows"], "steps": m["steps"], "seconds": m["train_seconds"],
                   "tokens_per_s": m["train_tokens_per_s"], "train_loss": m["train_loss"], "device": m["device"]}
            if prof is not None:
                events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
                total = sum(e.self_cpu_time_total for e in events)
                shares: dict[str, float] = {}
                for e in events:
                    shares[kind(e.key)] = shares.get(kind(e.key), 0.0) + e.self_cpu_time_total / total
                row["cpu_time_share"] = {k: round(v, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
            print(json.dumps(row), flush=True)
            if prof is not None:
                for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]:
                    print(f"  {e.key[:60]:60s} {e.self_cpu_time_total / total:6.1%}  calls {e.count}", flush=True)
        print(json.dumps({"precision": precision, "runs": len(runs),
                          "median_tokens_per_s": round(statistics.median(m["train_tokens_per_s"] for m in runs), 1)}), flush=True)


if __name__ == "__main__":
    main()
