"""python stages/prepare.py

Source rows (params `prepare.source`: data/generated/rows.jsonl by default; a local JSONL, JSON, CSV or
Parquet file; or a Hugging Face dataset id) in one of four shapes (ftlab/sources.py) -> chat `messages`
rows, through the data gate: schema of every row, duplicate ids, exact and near-duplicate prompts
(ftlab/gate.py), the token budget (train_lora.sft.max_length, tokenizer of train_lora's base model), a
deterministic split stratified by label, and a leakage check (no test prompt near a train prompt).
Triage rows get the system prompt `prepare.prompt` and answers with their keys in `prepare.answer_order`.
The real-text split (`prepare.real`, labels per ftlab/labels.py) is validated and written as it is; a
source row that is a near duplicate of one of its reports is refused (`real_overlap`), so it is never trained on.
Writes data/prepared/{train,val,test,real}.jsonl, data/prepared/rejected.jsonl (every refused row with its
reason), data/prepared/meta.json ({"task": "triage" | "generic", "prompt", "answer_order", ...}) and metrics/prepare.json.
"""
import json
import sys
from pathlib import Path

from ftlab import gate, labels, models, params, sources
from ftlab.io import DataFileError, write_json, write_jsonl

OUT = Path("data/prepared")
REASONS = ("bad_json", "missing_field", "wrong_label", "invalid_answer", "empty_report", "empty_turn",
           "bad_roles", "duplicate_id", "exact_duplicate", "near_duplicate", "real_overlap", "oversize")


def read_source(p) -> tuple[str, list, str, list[dict]]:
    """(source name, raw rows, shape, real reports): the source as it is, and the real-text split if triage."""
    try:
        name, raw = sources.load(p.source)
        shape = sources.shape_of(name, raw, p.source.shape)
        real = labels.read(Path(p.real), require=("severity", "category"), need_report=True)[0] if shape == "triage" else []
    except DataFileError as e:
        sys.exit(f"error: {e}")
    return name, raw, shape, real


def to_chats(p, raw: list, shape: str) -> tuple[list[dict], list[dict]]:
    """Schema: every row becomes a chat row or a rejection with its reason; none is dropped silently."""
    chats, rejected = [], []
    for i, row in enumerate(raw):
        try:
            chats.append(sources.to_chat(row, shape, sources.row_id(row, i), p.prompt, p.answer_order))
        except sources.Reject as r:
            rejected.append({"id": sources.row_id(row, i), "reason": r.reason, "detail": r.detail,
                             "row": json.loads(json.dumps(row, default=str))})
    return chats, rejected


def gate_rows(p, chats: list[dict], real: list[dict], tokenizer, max_tokens: int):
    """(kept rows, refused rows with their reasons, {id: (tokens, answer tokens)}, the dedup index)."""
    # Duplicates before the split, so that no prompt can sit in two splits.
    chats, dupes, index = gate.deduplicate(chats, sources.prompt_text, p.gate.near_duplicate_threshold, p.gate.shingle_size)
    # The real reports are for evaluation only: a source row that copies one is not trained on (nor tested on).
    overlap = gate.overlapping(chats, sources.prompt_text, [r["report"] for r in real], p.gate.near_duplicate_threshold,
                               p.gate.shingle_size)
    chats = [c for c in chats if c["id"] not in {o["id"] for o, _ in overlap}]
    dupes += [(c, "real_overlap", detail) for c, detail in overlap]
    lengths, answer_lengths = gate.token_lengths(tokenizer, chats)
    oversize = [(c, "oversize", f"{n} tokens > train_lora.sft.max_length {max_tokens}")
                for c, n in zip(chats, lengths) if n > max_tokens]
    tokens = {c["id"]: (n, a) for c, n, a in zip(chats, lengths, answer_lengths) if n <= max_tokens}
    refused = [{"id": c["id"], "reason": reason, "detail": detail, "row": c} for c, reason, detail in dupes + oversize]
    return [c for c in chats if c["id"] in tokens], refused, tokens, index


def stats_of(task, shape, raw, kept, rejected, leakage, max_tokens, splits, tokens, real) -> dict:
    """metrics/prepare.json: what came in, what the gate refused and why, and each split's size and lengths."""
    reasons = [r["reason"] for r in rejected]
    stats = {"task": task, "shape": shape, "rows_in": len(raw), "rows_kept": len(kept), "rows_rejected": len(rejected),
             **{f"rejected_{reason}": reasons.count(reason) for reason in REASONS},
             "duplicate_rate": round((reasons.count("exact_duplicate") + reasons.count("near_duplicate")) / len(raw), 4),
             "leakage": leakage, "max_tokens": max_tokens}
    for split_name, rows in splits.items():
        full = sorted(tokens[r["id"]][0] for r in rows)
        stats[f"{split_name}_rows"] = len(rows)
        stats[f"{split_name}_tokens_mean"] = round(sum(full) / len(full), 1) if full else 0
        stats[f"{split_name}_tokens_p50"] = full[len(full) // 2] if full else 0
        stats[f"{split_name}_tokens_p95"] = full[int(len(full) * 0.95)] if full else 0
        stats[f"{split_name}_tokens_max"] = full[-1] if full else 0
        stats[f"{split_name}_answer_tokens_max"] = max((tokens[r["id"]][1] for r in rows), default=0)
    stats.update(gate.label_counts({**splits, "real": real}, task))
    stats["real_rows"] = len(real)
    return stats


def main() -> None:
    p = params.load("prepare")
    train_params = params.load("train_lora")
    max_tokens = train_params.sft.get("max_length", 1024)  # TRL truncates longer rows: the answer's end would be cut off
    name, raw, shape, real = read_source(p)
    task = "triage" if shape == "triage" else "generic"
    chats, rejected = to_chats(p, raw, shape)
    try:
        tokenizer = models.load_tokenizer(train_params.base_model)
    except models.ModelSourceError as e:
        sys.exit(f"error: train_lora.{e}")
    chats, refused, tokens, index = gate_rows(p, chats, real, tokenizer, max_tokens)
    rejected += refused
    write_jsonl(OUT / "rejected.jsonl", rejected)

    label = (lambda c: (c["severity"], c["category"])) if task == "triage" else (lambda c: c.get("category", ""))
    splits = gate.stratified_split(chats, label, p.test_fraction, p.val_fraction, p.seed)
    if not splits["test"] or not splits["train"]:
        sys.exit(f"error: {len(chats)} rows passed the gate ({len(rejected)} rejected, see {OUT / 'rejected.jsonl'}), "
                 "which leaves an empty test or train split; supply more rows or adjust prepare.test_fraction / prepare.val_fraction")
    leakage = gate.leakage(index, splits["train"], splits["test"])
    if leakage:  # deduplicate ran over all rows before the split, so this is a bug, never a data problem
        sys.exit(f"error: {leakage} test rows are near-duplicates of train rows after deduplication")

    for split_name, rows in splits.items():
        write_jsonl(OUT / f"{split_name}.jsonl", rows)
    write_jsonl(OUT / "real.jsonl", real)
    triage_meta = {"prompt": p.prompt, "answer_order": p.answer_order, "real": p.real} if task == "triage" else {}
    write_json(OUT / "meta.json", {"task": task, "shape": shape, "source": name, **triage_meta})
    write_json(Path("metrics/prepare.json"), stats_of(task, shape, raw, chats, rejected, leakage, max_tokens, splits, tokens, real))
    print({"task": task, "kept": len(chats), "rejected": len(rejected), **{n: len(s) for n, s in splits.items()}})


if __name__ == "__main__":
    main()
