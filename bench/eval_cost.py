"""python -m bench.eval_cost [--rows 32] [--max-new-tokens N] [--batch-size N] [--compare-scores] [--bf16]

Where evaluate's time goes on this machine: seconds a row for each generating variant's decoding (base
zero-shot, base few-shot, the 4-bit base) and for the teacher-forced scores (ftlab.eval.generation.answer_scores),
on the first --rows rows of the test and real splits of data/prepared (run `dvc repro prepare` first), with
params.yaml's base models and evaluate settings (json_within included, as evaluation.run decodes). Prints one
line per piece (notes/decision.md section 7); --compare-scores also times the teacher-forced scores row by row
(no shared prefix) and prints the largest difference from the shared-prefix scores. --bf16 runs every piece under
CPU autocast to bfloat16 (what a CPU with bf16 units, AVX512-BF16 or AMX, would gain; the stages run float32).
"""
import argparse
import time


import torch

from ftlab import contracts, device, models, params, tasks, triage
from ftlab.eval import evaluation, generation
from ftlab.io import read_jsonl

TRIAGE = tasks.get("triage")


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: evaluate.max_new_tokens")
    parser.add_argument("--batch-size", type=int, default=None, help="default: evaluate.batch_size")
    parser.add_argument("--compare-scores", action="store_true", help="also score row by row, without the shared prefix")
    parser.add_argument("--bf16", action="store_true", help="every piece under CPU autocast to bfloat16")
    args = parser.parse_args()
    if args.bf16:  # for the whole process: every matmul in bfloat16, float32 where autocast keeps it
        torch.autocast("cpu", dtype=torch.bfloat16).__enter__()
    ev = params.load("evaluate")
    new, batch = args.max_new_tokens or ev.max_new_tokens, args.batch_size or ev.batch_size
    cuda = torch.cuda.is_available()
    splits = evaluation.load_splits(contracts.PREPARED, None, TRIAGE)
    shots = read_jsonl(contracts.PREPARED / "train.jsonl")[: ev.few_shot_k]
    print(f"device: {device.device_name()}; {args.rows} rows a split, {new} new tokens, batch {batch}, "
          f"{'bf16 autocast' if args.bf16 else 'float32'}")
    for name, stage in (("base", "train_lora"), ("qlora_base", "train_qlora")):
        t = params.load(stage).for_device(cuda)
        model, tokenizer = models.load_base(t.base_model, t.bnb)
        for split in splits.values():
            n = min(args.rows, len(split.ids))
            sub = evaluation.Split(split.name, split.ids[:n], split.reports[:n], split.golds[:n], split.answers[:n],
                                   split.chats[:n])
            variants = {name: ()} | ({"base_fewshot": shots} if name == "base" and shots else {})
            for variant, examples in variants.items():
                prompts = evaluation.prompts(sub, "rubric", examples, TRIAGE)
                replies, seconds = timed(lambda: generation.generate(model, tokenizer, prompts, new, batch, desc=variant,
                                                                     constrain=triage.ENUMS, json_within=ev.json_within))
                lengths = sorted(len(tokenizer(text)["input_ids"]) for text, _ in replies)
                json_found = sum(triage.parse_lenient(text) is not None for text, _ in replies)
                print(f"{variant:12s} {split.name:4s} decode  {seconds / n:.2f} s/row  (reply tokens median "
                      f"{lengths[n // 2]}, max {lengths[-1]}; a JSON object in {json_found}/{n})", flush=True)
                if any(a is not None for a in sub.answers):
                    conversations = [[*c, a] for c, a in zip(prompts, sub.answers)]
                    shared, seconds = timed(lambda: generation.answer_scores(model, tokenizer, conversations, triage.ENUMS))
                    print(f"{variant:12s} {split.name:4s} scores  {seconds / n:.2f} s/row  (teacher-forced)", flush=True)
                    if args.compare_scores:
                        generation.MIN_SHARED, kept = 10**9, generation.MIN_SHARED  # every row alone
                        alone, seconds = timed(lambda: generation.answer_scores(model, tokenizer, conversations, triage.ENUMS))
                        generation.MIN_SHARED = kept
                        diff = max(abs(a[k] - b[k]) for a, b in zip(shared, alone) for k in a if not k.endswith(("_scored", "_logprobs")))
                        same = all(a.get(k) == b.get(k) for a, b in zip(shared, alone) for k in a if k.endswith("_scored"))
                        print(f"{variant:12s} {split.name:4s} scores  {seconds / n:.2f} s/row  row by row; max |diff| "
                              f"{diff:.4f}, likelihood-scored labels identical: {same}", flush=True)
        model = tokenizer = None  # free the base before the 4-bit one loads (the lambdas above are done with it)


if __name__ == "__main__":
    main()
