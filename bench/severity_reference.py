"""A real split's severity beside its simplest references: the best constant answer and the confusion matrix.

    python -m bench.severity_reference data/eval/real_lora.jsonl data/real/reports.jsonl

The majority class of the report is fitted on the training rows, so it moves with the training prior (SEV1 since the
adjudication of data/real/TRAIN.md); the *best constant* is the one answer accepted most often on the scored split
itself, the stricter reference (it is read off that split, so it is a reference, never a method). Prints the
model's accuracy inside the ok-lists, the best constant's, their paired difference with its 95% interval
(ftlab.eval.metrics.compare) and the severity confusion (rows gold, columns predicted). Rows: the evaluate stage's scored
rows (`severity_pred`, `severity_accuracy`) or `ftlab predict`'s output (`prediction`).
"""
import sys
from pathlib import Path


from ftlab import triage
from ftlab.eval import metrics
from ftlab.io import read_jsonl

SEV = triage.ENUMS["severity"]


def predicted(row: dict) -> str | None:
    if "severity_pred" in row:
        return row["severity_pred"]
    return (row.get("prediction") or {}).get("severity")


def main(rows_file: Path, labels_file: Path) -> None:
    gold = {r["id"]: r for r in read_jsonl(labels_file)}
    rows = read_jsonl(rows_file)
    model = [{"id": r["id"], "ok": float(predicted(r) in gold[r["id"]]["severity_ok"])} for r in rows]
    best = max(SEV, key=lambda s: sum(s in gold[r["id"]]["severity_ok"] for r in rows))
    constant = [{"id": r["id"], "ok": float(best in gold[r["id"]]["severity_ok"])} for r in rows]
    d = metrics.compare(constant, model, ("ok",))
    print(f"{rows_file}: severity ok {sum(r['ok'] for r in model) / len(rows):.3f}; best constant {best} "
          f"{sum(r['ok'] for r in constant) / len(rows):.3f}; difference {d['ok']:+.3f} "
          f"[{d['ok_ci_low']:+.3f}, {d['ok_ci_high']:+.3f}]")
    print("| gold \\ predicted | " + " | ".join(SEV) + " |\n| --- |" + " ---: |" * len(SEV))
    for g in SEV:
        print(f"| **{g}** | " + " | ".join(str(sum(gold[r["id"]]["severity"] == g and predicted(r) == p for r in rows))
                                         for p in SEV) + " |")
    print("| predicted | " + " | ".join(str(sum(predicted(r) == p for r in rows)) for p in SEV) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
