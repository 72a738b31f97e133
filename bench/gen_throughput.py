"""python -m bench.gen_throughput [--prompts 512] [--new 128] [--cases single,plain64,sorted512,static512]

Greedy generation throughput of a random-weight Qwen2.5-0.5B (bf16, sdpa) on the evaluation workload of
issue 9: 512 prompts of 150-400 tokens (uniform; Zipf token ids), 128 new tokens each (EOS ignored, so
every prompt gets exactly 128). The same left-padded batching as ftlab/eval/generation.py (model.generate,
do_sample=False). Cases:
  single    one prompt at a time (seed's slow path), over the first --single-n prompts
  plainB    batches of B in input order, DynamicCache (the seed's batching), over --plain-n prompts
  sortedB   length-sorted batches of B, DynamicCache
  staticB   length-sorted batches of B, cache_implementation="static" (generate then compiles the decode
            step with torch.compile mode reduce-overhead, i.e. CUDA graphs); prompts left-padded to a
            multiple of --pad-multiple so few shapes compile
Each batched case's outputs for the first --single-n prompts are compared token by token with the
one-at-a-time outputs (`identical`: how many of them match exactly). new_tokens_per_s = prompts x 128 /
wall time of the case (prefill included; compilation included in `first_s` only: the case is run twice
and the second run is timed). mfu = 2 x N_matmul x (prompt + new tokens)/s / 989e12. Appends JSON
records to --json (default bench/out/gen.json) and prints a table.
"""
import argparse
import time


import torch

from bench import common


def prompts(n: int, seed: int = 3, lo: int = 150, hi: int = 400) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(lo, hi + 1, (n,), generator=g).tolist()
    ids = common.zipf_tokens(sum(lengths), seed + 1).tolist()
    out, at = [], 0
    for L in lengths:
        out.append(ids[at:at + L])
        at += L
    return out


def run(model, ps: list[list[int]], batch: int, new: int, sort: bool, static: bool, pad_multiple: int | None):
    """Greedy-generate for every prompt; returns the new-token lists in input order."""
    order = sorted(range(len(ps)), key=lambda i: len(ps[i])) if sort else list(range(len(ps)))
    results = [None] * len(ps)
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        L = max(len(ps[i]) for i in idx)
        if pad_multiple:
            L = -(-L // pad_multiple) * pad_multiple
        ids = torch.full((len(idx), L), common.PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(idx), L), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, L - len(ps[i]):] = torch.tensor(ps[i])
            mask[r, L - len(ps[i]):] = 1
        kw = dict(cache_implementation="static") if static else {}
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(model.device), attention_mask=mask.to(model.device), max_new_tokens=new,
                                 min_new_tokens=new, do_sample=False, temperature=None, top_p=None, top_k=None,
                                 pad_token_id=common.PAD_ID, eos_token_id=None, **kw)
        for r, i in enumerate(idx):
            results[i] = out[r, L:].tolist()
    return results


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="0.5b")
    ap.add_argument("--prompts", type=int, default=512)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--cases", default="single,plain64,sorted512,static512")
    ap.add_argument("--single-n", type=int, default=8)
    ap.add_argument("--plain-n", type=int, default=128)
    ap.add_argument("--pad-multiple", type=int, default=64)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--json", default="bench/out/gen.json")
    ap.add_argument("--cpu", action="store_true", help="smoke test on the CPU")
    ap.add_argument("--len-range", default="150,400", help="prompt lengths, uniform in lo,hi (test set: 300,400)")
    ap.add_argument("--tag", default="", help="inserted in the record names, e.g. testset")
    ap.add_argument("--dtype", default="bfloat16", help="bfloat16 (as the evaluate stage) or float32 (identity check)")
    a = ap.parse_args(argv)
    cuda = not a.cpu
    if not cuda:
        torch.cuda.synchronize = lambda: None
        torch.cuda.reset_peak_memory_stats = lambda: None
        torch.cuda.max_memory_allocated = lambda: 0

    model = common.build_model(a.model, a.attn, device="cuda" if cuda else "cpu",
                               dtype=getattr(torch, a.dtype) if cuda else torch.float32).eval()
    model.generation_config.eos_token_id = None
    lo, hi = map(int, a.len_range.split(","))
    ps = prompts(a.prompts, lo=lo, hi=hi)
    recs, ref = [], None
    for case in a.cases.split(","):
        kind = "".join(c for c in case if c.isalpha())
        B = int("".join(c for c in case if c.isdigit()) or 1)
        sub = ps[:a.single_n] if kind == "single" else ps[:a.plain_n] if kind == "plain" else ps
        cfg = dict(batch=B, new=a.new, sort=kind in ("sorted", "static"), static=kind == "static",
                   pad_multiple=a.pad_multiple if kind == "static" else None)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        error, first_s, out = None, None, None
        try:
            if kind == "static":  # first run compiles; time the second
                t = time.perf_counter()
                run(model, sub, **cfg)
                torch.cuda.synchronize()
                first_s = time.perf_counter() - t
            t = time.perf_counter()
            out = run(model, sub, **cfg)
            torch.cuda.synchronize()
            secs = time.perf_counter() - t
        except Exception as e:  # noqa: BLE001 - one failing case must not hide the others
            error, secs = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}", None
        rec = {"name": f"{a.model}-gen-" + (f"{a.tag}-" if a.tag else "") + case + ("-seed" if kind in ("single", "plain") else "")
               + ("" if a.dtype == "bfloat16" else f"-{a.dtype}"),
               "case": case, "prompts": len(sub), "len_range": [lo, hi], "batch": B, "new_tokens": a.new, "error": error,
               "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2), "first_s": first_s and round(first_s, 1)}
        if secs:
            new_tok = len(sub) * a.new
            proc = new_tok + sum(len(p) for p in sub)
            rec.update(new_tokens_per_s=round(new_tok / secs, 1), seconds=round(secs, 2),
                       mfu=round(common.gen_mfu(a.model, proc / secs), 4), final_loss=None)
        if kind == "single" and out is not None:
            ref = out
        if ref is not None and out is not None:
            n = min(len(ref), len(out))
            same = [out[i] == ref[i] for i in range(n)]
            first_diff = [next((j for j, (x, y) in enumerate(zip(out[i], ref[i])) if x != y), a.new) for i in range(n)]
            rec.update(identical=f"{sum(same)}/{n}", first_divergence=first_diff)
        recs.append(rec)
        common.append_json(a.json, rec)
        print(rec["name"], {k: v for k, v in rec.items() if k not in ("name", "first_divergence")}, flush=True)
    print(common.fmt_table(recs, [("name", "case", ""), ("prompts", "prompts", "d"), ("new_tokens_per_s", "new tok/s", ",.0f"),
                                  ("mfu", "MFU", ".4f"), ("peak_gib", "peak GiB", ".2f"), ("identical", "= single", ""),
                                  ("first_s", "1st run s", ".1f"), ("error", "error", "")]), flush=True)
    return recs


if __name__ == "__main__":
    main()
