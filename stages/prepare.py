"""python stages/prepare.py

Source rows (params `prepare.source`: data/generated/rows.jsonl by default; a local JSONL, JSON, CSV or
Parquet file; or a Hugging Face dataset id) in one of four shapes (ftlab/data/sources.py) -> chat `messages`
rows, through the data gate: schema of every row, duplicate ids, exact and near-duplicate prompts
(ftlab/data/gate.py), the token budget (train_lora.sft.max_length, tokenizer of train_lora's base model), a
deterministic split stratified by label, and a leakage check (no test prompt near a train prompt).
Triage rows get the system prompt `prepare.prompt` and answers with their keys in `prepare.answer_order`.
Triage data may also train on real, labelled incident texts (`prepare.real_train`, data/real/TRAIN.md): they go
through the same gate and into the train split only; `prepare.mix` says how many rows each source gives (the
generated source's val and test splits are kept whatever its share). Every row carries its `source`.
The real-text split (`prepare.real`, labels per ftlab/data/labels.py) is validated and written as it is; a training
row of any source that copies one of its reports or one of the development split's (`prepare.dev`) is refused
(`real_overlap`), so neither is ever trained on.
Writes data/prepared/{train,val,test,real}.jsonl, data/prepared/rejected.jsonl (every refused row with its
reason), data/prepared/meta.json ({"task": "triage" | "generic", "prompt", "answer_order", ...}) and
metrics/prepare.json (rows by source and split, rejections by reason, label counts).
"""
import json
from pathlib import Path

from ftlab import contracts, models, params, stage, tasks
from ftlab.data import gate, labels, sources
from ftlab.io import write_json, write_jsonl

OUT = contracts.PREPARED
SOURCES = ("generated", "real")
REASONS = ("bad_json", "missing_field", "wrong_label", "invalid_answer", "empty_report", "empty_turn",
           "bad_roles", "duplicate_id", "exact_duplicate", "near_duplicate", "real_overlap", "oversize")


def read_source(p) -> tuple[str, list, str, list[dict], list[dict], list[dict]]:
    """(source name, raw rows, shape, real evaluation reports, real development reports, real training records):
    the source as it is and, for triage, the real files (the training records only when prepare.mix.real is not 0)."""
    name, raw = sources.load(p.source)
    shape = sources.shape_of(name, raw, p.source.shape)
    if shape != "triage":
        return name, raw, shape, [], [], []
    real, dev = (labels.read(Path(f), require=("severity", "category"), need_report=True)[0] for f in (p.real, p.dev))
    real_train = [] if p.mix.real == 0 else labels.read(
        Path(p.real_train), require=("severity", "category", "affected_services"), need_report=True)[0]
    return name, raw, shape, real, dev, real_train


def to_chats(p, raw: list, shape: str, real_train: list[dict]) -> tuple[list[dict], list[dict]]:
    """Schema: every row of both sources becomes a chat row tagged with its source, or a rejection with its
    reason; none is dropped silently."""
    chats, rejected = [], []
    rows = [("generated", row, sources.row_id(row, i)) for i, row in enumerate(raw)]
    rows += [("real", record, str(record["id"])) for record in real_train]
    for source, row, row_id in rows:
        try:
            chat = (sources.to_chat(row, shape, row_id, p.prompt, p.answer_order) if source == "generated"
                    else sources.real_to_chat(row, p.prompt, p.answer_order))
            chats.append({**chat, "source": source})
        except sources.Reject as r:
            rejected.append({"id": row_id, "source": source, "reason": r.reason, "detail": r.detail,
                             "row": json.loads(json.dumps(row, default=str))})
    return chats, rejected


def gate_rows(p, chats: list[dict], held_out: dict[str, str], tokenizer, max_tokens: int):
    """(kept rows, refused rows with their reasons, {id: (tokens, answer tokens)}, the dedup index)."""
    # Duplicates before the split, across both sources, so that no prompt can sit in two splits.
    chats, dupes, index = gate.deduplicate(chats, sources.prompt_text, p.gate.near_duplicate_threshold, p.gate.shingle_size)
    # The real evaluation and development reports are never trained on: a row of any source that copies one is
    # refused (nor is it tested on).
    overlap = gate.overlapping(chats, sources.prompt_text, held_out, p.gate.near_duplicate_threshold, p.gate.shingle_size)
    chats = [c for c in chats if c["id"] not in {o["id"] for o, _ in overlap}]
    dupes += [(c, "real_overlap", detail) for c, detail in overlap]
    lengths, answer_lengths = gate.token_lengths(tokenizer, chats)
    oversize = [(c, "oversize", f"{n} tokens > train_lora.sft.max_length {max_tokens}")
                for c, n in zip(chats, lengths) if n > max_tokens]
    tokens = {c["id"]: (n, a) for c, n, a in zip(chats, lengths, answer_lengths) if n <= max_tokens}
    refused = [{"id": c["id"], "source": c.get("source"), "reason": reason, "detail": detail, "row": c}
               for c, reason, detail in dupes + oversize]
    return [c for c in chats if c["id"] in tokens], refused, tokens, index


def stats_of(task, shape, raw, real_train, kept, rejected, leakage, max_tokens, splits, tokens, real) -> dict:
    """metrics/prepare.json: what came in, what the gate refused and why, and each split's size and lengths."""
    reasons = [r["reason"] for r in rejected]
    stats = {"task": task.name, "shape": shape, "rows_in": len(raw), "real_train_rows_in": len(real_train),
             "rows_kept": len(kept), "rows_rejected": len(rejected),
             **{f"{source}_rows_{what}": sum(r.get("source") == source for r in rows)
                for source in SOURCES for what, rows in (("kept", kept), ("rejected", rejected))},
             **{f"{split_name}_rows_{source}": sum(r.get("source") == source for r in rows)
                for split_name, rows in splits.items() for source in SOURCES},
             **{f"rejected_{reason}": reasons.count(reason) for reason in REASONS},
             "duplicate_rate": round((reasons.count("exact_duplicate") + reasons.count("near_duplicate"))
                                     / (len(raw) + len(real_train)), 4),
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


def split_rows(p, chats: list[dict], task: tasks.Task) -> dict:
    """Generated rows: a stratified test / val / train split, then `mix.generated` of the train rows; real
    training rows: `mix.real` of them, all in train (the real evaluation files are the real-text test). The two
    sources are interleaved in proportion, so the first N training rows (train_*.max_train_rows) hold both."""
    generated = [c for c in chats if c["source"] == "generated"]
    splits = gate.stratified_split(generated, task.split_label, p.test_fraction, p.val_fraction, p.seed)
    splits["train"] = gate.interleave(gate.first_n(splits["train"], p.mix.generated, p.seed),
                                      gate.first_n([c for c in chats if c["source"] == "real"], p.mix.real, p.seed))
    return splits


def main() -> None:
    p = params.load("prepare")
    train_params = params.load("train_lora")
    max_tokens = train_params.sft.get("max_length", 1024)  # TRL truncates longer rows: the answer's end would be cut off
    name, raw, shape, real, dev, real_train = read_source(p)
    task = tasks.for_shape(shape)
    chats, rejected = to_chats(p, raw, shape, real_train)
    try:
        tokenizer = models.load_tokenizer(train_params.base_model)
    except models.ModelSourceError as e:
        raise stage.StageError(f"train_lora.{e}") from None
    held_out = {**{f"{p.real} {r['id']}": r["report"] for r in real}, **{f"{p.dev} {r['id']}": r["report"] for r in dev}}
    chats, refused, tokens, index = gate_rows(p, chats, held_out, tokenizer, max_tokens)
    rejected += refused
    write_jsonl(OUT / "rejected.jsonl", rejected)

    splits = split_rows(p, chats, task)
    if not splits["test"] or not splits["train"]:
        raise stage.StageError(f"{len(chats)} rows passed the gate ({len(rejected)} rejected, see "
                               f"{OUT / 'rejected.jsonl'}), which leaves an empty test or train split; supply more "
                               "rows, adjust prepare.test_fraction / prepare.val_fraction, or give prepare.mix a share "
                               "of rows")
    leakage = gate.leakage(index, splits["train"], splits["test"])
    if leakage:  # deduplicate ran over all rows before the split, so this is a bug, never a data problem
        raise stage.StageError(f"{leakage} test rows are near-duplicates of train rows after deduplication")

    for split_name, rows in splits.items():
        write_jsonl(OUT / f"{split_name}.jsonl", rows)
    write_jsonl(OUT / "real.jsonl", real)
    triage_meta = ({"prompt": p.prompt, "answer_order": p.answer_order, "real": p.real, "real_train": p.real_train}
                   if task.labelled else {})
    write_json(OUT / "meta.json", {"task": task.name, "shape": shape, "source": name, **triage_meta})
    write_json(contracts.metrics_file("prepare"),
               stats_of(task, shape, raw, real_train, chats, rejected, leakage, max_tokens, splits, tokens, real))
    print({"task": task.name, "kept": len(chats), "rejected": len(rejected), **{n: len(s) for n, s in splits.items()},
           **{f"train_{s}": sum(r["source"] == s for r in splits["train"]) for s in SOURCES}})


if __name__ == "__main__":
    stage.run(main)
