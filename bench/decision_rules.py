"""Which severity decision rule, given a trained adapter's label probabilities, is right most often on real text?

    python -m bench.decision_rules --adapter models/lora --real data/real/dev.jsonl --real data/real/reports.jsonl \
        --out bench/out/decision_rules/NAME.json

The score of a triage answer is whether its label is inside the report's ok-list (`severity_ok`: every answer a
careful triager could defend). Constrained decoding answers the most likely label; when two adjacent labels are
both often acceptable, the answer with the highest *expected* acceptance can be another one. Rules compared, all
fitted on training rows only (the real training corpus's ok-lists and data/prepared/train.jsonl), never on the
split they are scored on:

  argmax        the adapter's most likely value (teacher-forced likelihood of each value, ftlab.eval.generation.answer_scores)
  mbr           argmax_s sum_t p(t | report) * A[s, t], A[s, t] = the share of training records of gold t whose
                ok-list holds s (minimum Bayes risk under the ok-list score)
  classic       the TF-IDF + logistic regression baseline fitted on the prepared train split (the pipeline's)
  classic-mbr   the same rule over the classic baseline's probabilities
  mix, mix-mbr  the mean of the two models' probabilities, then argmax / mbr
  majority      the training split's most frequent severity
  prior, prior-mbr  the adapter's probabilities divided by the training split's severity shares (a uniform prior
                in place of the training rows'), then argmax / mbr

Each rule's accuracy inside the ok-lists, and the paired bootstrap 95% interval of its difference from the classic
baseline and from argmax, for every --real file. Prints the table; --out also keeps each row's probabilities.
"""
import argparse
import json
from pathlib import Path


import numpy as np

from bench.decision import rewrite  # (bench/decision.py: real records as chats in a prompt's style)
from ftlab import models, triage
from ftlab.data import sources
from ftlab.eval import baselines, generation, metrics
from ftlab.io import read_jsonl, write_json

SEV = triage.ENUMS["severity"]


def acceptance(records: list[dict]) -> np.ndarray:
    """A[s, t]: of the records whose preferred severity is t, the share whose ok-list also holds s."""
    a = np.zeros((len(SEV), len(SEV)))
    for t, gold in enumerate(SEV):
        rows = [r for r in records if r["severity"] == gold]
        for s, value in enumerate(SEV):
            a[s, t] = sum(value in r["severity_ok"] for r in rows) / max(1, len(rows))
    return a


def adapter_probabilities(adapter: Path, real: list[dict]) -> np.ndarray:
    """p(severity value | report) from the adapter: each value's summed log-probability where the label goes,
    normalised over the four values."""
    info = models.adapter_info(adapter)
    model, tokenizer = models.load_for_inference(adapter)
    values = triage.enums(info["label_values"])
    chats = rewrite([sources.real_to_chat(r, info["prompt"], info["answer_order"]) for r in real], info["prompt"],
                    info["answer_order"], info["label_values"])
    scores = generation.answer_scores(model, tokenizer, [c["messages"] for c in chats], values)
    logp = np.array([[s["severity_logprobs"][v] for v in values["severity"]] for s in scores])
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def classic_probabilities(train_rows: list[dict], real: list[dict]) -> tuple[np.ndarray, str]:
    model = baselines.fit("classic", train_rows, "severity")
    proba = model.predict_proba([r["report"] for r in real])
    classes = list(model.classes_)
    majority = max(SEV, key=[r["severity"] for r in train_rows].count)
    return np.stack([proba[:, classes.index(v)] if v in classes else np.zeros(len(real)) for v in SEV], axis=1), majority


def rules(p_lora: np.ndarray, p_classic: np.ndarray, a: np.ndarray, majority: str,
          prior: np.ndarray) -> dict[str, list[str]]:
    mix = (p_lora + p_classic) / 2
    # The training rows' label shares divided out (a uniform prior instead): the adapter over-calls the label the
    # training rows hold most often (SEV1 after the adjudication, notes/decision.md section 10).
    flat = p_lora / prior
    flat = flat / flat.sum(axis=1, keepdims=True)
    pick = lambda p: [SEV[i] for i in p.argmax(axis=1)]  # noqa: E731
    mbr = lambda p: [SEV[i] for i in (p @ a.T).argmax(axis=1)]  # noqa: E731  (row: sum_t p_t A[s, t] per s)
    return {"majority": [majority] * len(p_lora), "classic": pick(p_classic), "classic-mbr": mbr(p_classic),
            "argmax": pick(p_lora), "mbr": mbr(p_lora), "mix": pick(mix), "mix-mbr": mbr(mix),
            "prior": pick(flat), "prior-mbr": mbr(flat)}


def paired(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Mean of a - b and its paired bootstrap 95% interval (ftlab.eval.metrics.compare, as the report computes it)."""
    d = metrics.compare([{"id": i, "ok": float(x)} for i, x in enumerate(b)],
                        [{"id": i, "ok": float(x)} for i, x in enumerate(a)], ("ok",))
    return [d["ok"], d["ok_ci_low"], d["ok_ci_high"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--real", type=Path, action="append", required=True, help="labelled real reports; repeat")
    parser.add_argument("--train", type=Path, default=Path("data/prepared/train.jsonl"),
                        help="the rows the classic baseline is fitted on (the adapter's training split)")
    parser.add_argument("--accept-from", type=Path, default=Path("data/real/train.jsonl"),
                        help="the labelled real training records whose ok-lists give A[s, t]")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    a = acceptance(read_jsonl(args.accept_from))
    train_rows = read_jsonl(args.train)
    result = {"adapter": str(args.adapter), "acceptance": a.round(3).tolist(), "splits": {}}
    print("A[s, t] (rows s, columns t):", json.dumps(a.round(2).tolist()))
    for path in args.real:
        real = read_jsonl(path)
        p_lora = adapter_probabilities(args.adapter, real)
        p_classic, majority = classic_probabilities(train_rows, real)
        prior = np.array([[r["severity"] for r in train_rows].count(v) / len(train_rows) for v in SEV])
        answers = rules(p_lora, p_classic, a, majority, prior)
        ok = {rule: np.array([v in r["severity_ok"] for v, r in zip(values, real)]) for rule, values in answers.items()}
        split = {rule: {"severity_accuracy": round(float(hits.mean()), 4), "vs_classic": paired(hits, ok["classic"]),
                        "vs_argmax": paired(hits, ok["argmax"]),
                        "predicted": {v: values.count(v) for v in SEV}} for rule, (hits, values)
                 in ((r, (ok[r], answers[r])) for r in answers)}
        result["splits"][path.stem] = {"rules": split, "rows": [
            {"id": r["id"], "lora": p_lora[i].round(4).tolist(), "classic": p_classic[i].round(4).tolist()}
            for i, r in enumerate(real)]}
        print(f"\n{path} ({len(real)} rows)")
        print("| rule | severity ok | − classic | − argmax | answers SEV1/2/3/4 |\n| --- | --- | --- | --- | --- |")
        for rule, s in split.items():
            fmt = lambda d: f"{d[0]:+.3f} [{d[1]:+.2f}, {d[2]:+.2f}]"  # noqa: E731
            print(f"| {rule} | {s['severity_accuracy']:.3f} | {fmt(s['vs_classic'])} | {fmt(s['vs_argmax'])} | "
                  f"{'/'.join(str(s['predicted'][v]) for v in SEV)} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.out, result)


if __name__ == "__main__":
    main()
