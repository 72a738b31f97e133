"""python stages/prepare.py

Generated rows -> chat `messages` (system: the spec's rules, user: the report, assistant: the gold JSON),
exact duplicates removed, a deterministic split stratified by severity x category into
data/prepared/{train,val,test}.jsonl, and token-length statistics (tokenizer of train_lora's base
model) into metrics/prepare.json.
"""
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

from ftlab import models, params, triage
from ftlab.io import DataFileError, read_jsonl, write_json, write_jsonl

SOURCE = Path("data/generated/rows.jsonl")
OUT = Path("data/prepared")

p = params.load("prepare")
base_model = params.load("train_lora").base_model
try:
    rows = read_jsonl(SOURCE)
except DataFileError as e:
    sys.exit(f"error: {e}")

# Exact duplicates: the same report up to case and whitespace would leak across splits.
seen, unique = set(), []
for row in rows:
    key = re.sub(r"\s+", " ", row["report"]).strip().lower()
    if key not in seen:
        seen.add(key)
        unique.append(row)

# Stratify by severity x category: shuffle each cell, deal the cells out round-robin, then cut the
# dealt order into test / val / train, so every split gets the cells in proportion, even small ones,
# and the first N rows of any split (evaluate.max_rows, train_*.max_train_rows) cycle through the cells.
rng = random.Random(p.seed)
cells = defaultdict(list)
for row in unique:
    cells[(row["triage"]["severity"], row["triage"]["category"])].append(row)
for key in sorted(cells):
    rng.shuffle(cells[key])
dealt = [cell[i] for i in range(max(map(len, cells.values()), default=0))
         for cell in (cells[k] for k in sorted(cells)) if i < len(cell)]
n_test, n_val = round(len(dealt) * p.test_fraction), round(len(dealt) * p.val_fraction)
splits = {"test": dealt[:n_test], "val": dealt[n_test:n_test + n_val], "train": dealt[n_test + n_val:]}
if not splits["test"] or not splits["train"]:
    sys.exit(f"error: {len(dealt)} unique rows leave an empty test or train split; "
             "raise generate_data.n_rows or adjust prepare.test_fraction / prepare.val_fraction")


def to_chat(row: dict) -> dict:
    return {
        "id": row["id"],
        "severity": row["triage"]["severity"],
        "category": row["triage"]["category"],
        "messages": [
            {"role": "system", "content": triage.SYSTEM_PROMPT},
            {"role": "user", "content": row["report"]},
            {"role": "assistant", "content": triage.dumps(row["triage"])},
        ],
    }


try:
    tokenizer = models.load_tokenizer(base_model)
except models.ModelSourceError as e:
    sys.exit(f"error: train_lora.{e}")
stats = {"rows_in": len(rows), "duplicates_removed": len(rows) - len(unique)}
for name, split in splits.items():
    chats = [to_chat(r) for r in split]
    write_jsonl(OUT / f"{name}.jsonl", chats)
    lengths = sorted(len(tokenizer.apply_chat_template(c["messages"], tokenize=True, return_dict=True)["input_ids"]) for c in chats)
    answer = sorted(len(tokenizer(c["messages"][-1]["content"])["input_ids"]) for c in chats)
    stats[name] = {
        "rows": len(chats),
        "tokens_mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
        "tokens_p50": lengths[len(lengths) // 2] if lengths else 0,
        "tokens_p95": lengths[int(len(lengths) * 0.95)] if lengths else 0,
        "tokens_max": lengths[-1] if lengths else 0,
        "answer_tokens_max": answer[-1] if answer else 0,
    }
write_json(Path("metrics/prepare.json"), stats)
print({k: v["rows"] for k, v in stats.items() if isinstance(v, dict)})
