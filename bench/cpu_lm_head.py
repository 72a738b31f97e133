"""python -m bench.cpu_lm_head [--rows 32] [--sft '{"bf16": true}']

What ftlab.train.patches.compact_lm_head saves on a CPU: trains train_lora's recipe for this device (params.yaml, the
embedded model, data/prepared) on the first --rows rows, once with TRL's fused LM head
as TRL runs it off-GPU (every position projected) and once compact (only the positions with a label), and prints
seconds, tokens/s and the training loss of each. No checkpoints, no validation passes. Needs `dvc repro prepare`.
"""
import argparse
import contextlib
import json
import tempfile
from pathlib import Path


from bench import decision  # (case_params: the decision sweep's way of applying overrides)
from ftlab import params, train
from ftlab.train import patches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--sft", default="{}", help="JSON: SFTConfig keywords over params.yaml's, e.g. '{\"bf16\": true}'")
    args = ap.parse_args()
    base = params.load("train_lora")
    overrides = {**decision.HARNESS, "max_train_rows": args.rows,
                 **{f"sft.{k}": v for k, v in json.loads(args.sft).items()}}
    p = decision.case_params(base, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path("data/prepared")  # as the train stages read it (meta.json: prompt, key order)
        real = patches.compact_lm_head
        for name, lm_head in (("every position (TRL off-GPU)", contextlib.nullcontext), ("compact", real)):
            patches.compact_lm_head = lm_head
            try:
                _, m = train.train(data, Path(tmp) / name.split()[0], Path(tmp) / "m.json", p)
            finally:
                patches.compact_lm_head = real
            print(json.dumps({"lm_head": name, "rows": m["train_rows"], "steps": m["steps"], "seconds": m["train_seconds"],
                              "tokens_per_s": m["train_tokens_per_s"], "train_loss": m["train_loss"],
                              "label_values": p.label_values, "sft": json.loads(args.sft)}))


if __name__ == "__main__":
    main()
