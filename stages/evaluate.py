"""python stages/evaluate.py

Before/after on the test split: for each fine-tune, its base model and base + adapter, greedy decoding,
same rows, same prompts. Per-example predictions go to data/eval/{base,lora,qlora_base,qlora}.jsonl,
metrics per model (mean and bootstrap 95% interval) to metrics/eval.json, and fine-tuned minus base
(delta, paired-bootstrap 95% interval, rows flipped) to metrics/delta.json.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from ftlab import generation, metrics, models, params
from ftlab.io import DataFileError, read_jsonl, write_json, write_jsonl

OUT = Path("data/eval")

p = params.load("evaluate")
try:
    rows = read_jsonl(Path("data/prepared/test.jsonl"))[: p.max_rows]
except DataFileError as e:
    sys.exit(f"error: {e}")
if not rows:
    sys.exit("error: data/prepared/test.jsonl has no rows; raise prepare.test_fraction or generate_data.n_rows")
prompts = [r["messages"][:-1] for r in rows]
golds = [json.loads(r["messages"][-1]["content"]) for r in rows]
reports = [r["messages"][1]["content"] for r in rows]


def run(name, model, tokenizer) -> list[dict]:
    print(f"{name}: generating {len(rows)} replies", file=sys.stderr)
    replies = generation.generate(model, tokenizer, prompts, p.max_new_tokens, p.batch_size)
    out = [
        {"id": row["id"], **metrics.score_row(text, gold, report), "latency_s": round(seconds, 3), "output": text}
        for row, gold, report, (text, seconds) in zip(rows, golds, reports, replies)
    ]
    write_jsonl(staging / f"{name}.jsonl", out)
    return out


OUT.parent.mkdir(parents=True, exist_ok=True)
staging = Path(tempfile.mkdtemp(dir=OUT.parent, prefix=".eval-"))
scored = {}
for finetune, (base_name, stage) in metrics.PAIRS.items():
    train_params = params.load(stage)
    try:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(**train_params.bnb) if train_params.bnb else None
        tokenizer = models.load_tokenizer(train_params.base_model)
        model = models.load_adapter(models.load_model(train_params.base_model, quantization), Path("models") / finetune)
    except models.ModelSourceError as e:
        shutil.rmtree(staging)
        sys.exit(f"error: {stage}.{e}")
    with model.disable_adapter():  # the very same weights minus the adapter: an exact before/after
        scored[base_name] = run(base_name, model, tokenizer)
    scored[finetune] = run(finetune, model, tokenizer)
    del model

if OUT.exists():
    shutil.rmtree(OUT)
staging.rename(OUT)
results = {name: metrics.aggregate(rows) for name, rows in scored.items()}
deltas = {}
for finetune, (base, _) in metrics.PAIRS.items():
    deltas[finetune] = metrics.compare(scored[base], scored[finetune])
    deltas[finetune]["severity_macro_f1"] = round(results[finetune]["severity_macro_f1"] - results[base]["severity_macro_f1"], 4)
    deltas[finetune]["latency_s"] = round(results[finetune]["latency_s"] - results[base]["latency_s"], 3)
write_json(Path("metrics/eval.json"), results)
write_json(Path("metrics/delta.json"), deltas)
print(json.dumps(deltas, indent=2))
