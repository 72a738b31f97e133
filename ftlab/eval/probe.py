"""Forgetting probe: does a fine-tuned model still behave as a general assistant?

Two measurements on material we wrote and ship in data/probe/ (nothing from the training task):
- general instructions, each asked with the model's own chat template and no triage system prompt;
  a reply counts as `probe_answered` when it contains one of the instruction's expected answers,
  and `probe_triage_json` when it is a triage-shaped JSON object instead (the fine-tune leaking);
- perplexity of plain English prose (data/probe/general.txt), the language modelling that LoRA
  should leave almost untouched.
"""
import math
import re
from pathlib import Path

import torch

from ftlab import triage
from ftlab.eval import generation
from ftlab.io import read_jsonl
from ftlab.eval.metrics import PROBE_METRICS as METRICS

INSTRUCTIONS = Path("data/probe/instructions.jsonl")
GENERAL_TEXT = Path("data/probe/general.txt")


def load(path: Path = INSTRUCTIONS) -> list[dict]:
    return read_jsonl(path)


def score(reply: str, expect: list[str]) -> dict:
    found = triage.parse_lenient(reply)
    return {
        # Whole words only, so that "au" is gold's symbol and not the start of "autumn".
        "probe_answered": float(any(re.search(rf"\b(?:{pattern})\b", reply, re.I) for pattern in expect)),
        "probe_triage_json": float(found is not None and bool(set(found) & set(triage.KEYS))),
    }


def run(model, tokenizer, probes: list[dict], max_new_tokens: int, batch_size: int) -> list[dict]:
    """One scored row per probe instruction: id, prompt, reply and the two 0/1 scores."""
    prompts = [[{"role": "user", "content": p["prompt"]}] for p in probes]
    replies = generation.generate(model, tokenizer, prompts, max_new_tokens, batch_size, desc="probe")
    return [{"id": p["id"], "prompt": p["prompt"], **score(text, p["expect"]), "output": text}
            for p, (text, _) in zip(probes, replies)]


def perplexity(model, tokenizer, text: str, window: int = 512) -> float:
    """exp(mean next-token loss) over `text`, in non-overlapping windows of `window` tokens."""
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(ids) - 1, window):
            chunk = ids[start:start + window].unsqueeze(0).to(device)
            if chunk.shape[1] < 2:
                break
            loss = model(input_ids=chunk, labels=chunk).loss.float().item()
            total += loss * (chunk.shape[1] - 1)
            count += chunk.shape[1] - 1
    return round(math.exp(total / count), 3)


def summary(rows: list[dict]) -> dict:
    return {m: round(sum(r[m] for r in rows) / len(rows), 4) for m in METRICS} | {"probe_rows": len(rows)}
