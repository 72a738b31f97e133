"""python stages/evaluate.py

Before/after on the test split: for each fine-tune, its base model and base + adapter, greedy decoding,
same rows, same prompts. Per-example predictions go to data/eval/{base,lora,qlora_base,qlora}.jsonl,
metrics per model to metrics/eval.json, fine-tuned minus base to metrics/delta.json.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from ftlab import generation, metrics, models, params
from ftlab.io import DataFileError, read_jsonl, write_json, write_jsonl

OUT = Path("data/eval")
# fine-tune -> (name of its base's block, training stage that made it)
PAIRS = {"lora": ("base", "train_lora"), "qlora": ("qlora_base", "train_qlora")}

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


def run(name, model, tokenizer) -> dict:
    print(f"{name}: generating {len(rows)} replies", file=sys.stderr)
    replies = generation.generate(model, tokenizer, prompts, p.max_new_tokens, p.batch_size)
    scored = [
        {"id": row["id"], **metrics.score_row(text, gold, report), "latency_s": round(seconds, 3), "output": text}
        for row, gold, report, (text, seconds) in zip(rows, golds, reports, replies)
    ]
    write_jsonl(staging / f"{name}.jsonl", scored)
    return metrics.aggregate(scored)


OUT.parent.mkdir(parents=True, exist_ok=True)
staging = Path(tempfile.mkdtemp(dir=OUT.parent, prefix=".eval-"))
results = {}
for finetune, (base_name, stage) in PAIRS.items():
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
        results[base_name] = run(base_name, model, tokenizer)
    results[finetune] = run(finetune, model, tokenizer)
    del model

if OUT.exists():
    shutil.rmtree(OUT)
staging.rename(OUT)
write_json(Path("metrics/eval.json"), results)
write_json(Path("metrics/delta.json"), {
    finetune: {k: round(results[finetune][k] - results[base][k], 4) for k in (*metrics.METRICS, "latency_s")}
    for finetune, (base, _) in PAIRS.items()
})
print(json.dumps(results, indent=2))
