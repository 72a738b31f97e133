"""python -m bench.decision --out DIR [--cases base,lr1e-3,...] [--generate] [--seeds 42,43]

Does the fine-tune learn the triage decision, and what makes it? Each case trains ftlab's own recipe
(ftlab.train.train with train_lora's params for this device, plus the case's overrides) on
data/prepared, rewritten for the case's system prompt and answer key order, then scores it:

- teacher-forced on the test split (ftlab.eval.generation.answer_scores): the answer's mean loss, each label's
  token loss, and the label chosen by likelihood scoring (the allowed value the model finds most likely);
- with --generate, replies on the test split and on real reports (the development set data/real/dev.jsonl,
  never the held-out split): plain greedy and enum-constrained decoding (ftlab.eval.generation.EnumValues),
  scored by ftlab.eval.metrics.score_row, with the paired difference from each baseline on the labels.

Beside them the classic baseline (ftlab.eval.baselines: TF-IDF + logistic regression on the same training
rows) and the majority class. Prints one table; writes DIR/decision.json (every case's params and
numbers). notes/decision.md reads these figures.
"""
import argparse
import json
import time
from pathlib import Path


import torch

from ftlab import device, models, params, train, triage
from ftlab.data import gate, sources

from ftlab.eval import baselines, generation, metrics
from ftlab.io import read_json, read_jsonl, write_json, write_jsonl

# name -> overrides: dotted params keys (train_lora's section, after on_cuda is merged), plus the data's
# `prompt` (triage.SYSTEM_PROMPTS), `order` (triage.ORDERS) and `values` (triage.LABEL_VALUES).
_EP4 = {"sft.learning_rate": 1e-3, "sft.num_train_epochs": 4}
_ALL = {"lora.target_modules": "all-linear"}
# The CPU budget's shape (a few hundred row passes, 4 rows a step), trained the same way on any device.
_CPU = {"sft.per_device_train_batch_size": 4, "sft.gradient_accumulation_steps": 1, "sft.learning_rate": 2e-3,
        "max_train_rows": 192, "sft.num_train_epochs": 2}
# The small-step cases of 2026-12-03: the CPU shape with params.yaml's chosen recipe, at lr 1e-3.
_SMALL = {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0, "label_weight": 10.0, "sft.learning_rate": 1e-3}
# params.yaml's CPU shape of 2026-12-03 wherever the case runs (the GPU profile folds on_cuda in otherwise).
_NOW = {"sft.per_device_train_batch_size": 4, "sft.gradient_accumulation_steps": 1, "sft.learning_rate": 2e-3,
        "max_train_rows": 192, "max_val_rows": 16, "sft.num_train_epochs": 1}
_W = {**_NOW, "prompt": "short", "values": "words"}  # the CPU shape with severity written as a word
# Cases are overrides of params.yaml as it is now: since 2026-12-03 its defaults are the chosen recipe, so a case
# that sets nothing (g-shipped) no longer means the recipe shipped before issue 16; every result in bench/out
# records the full params it ran with.
CASES = {
    # every training row, 16 a step (train_lora's on_cuda profile)
    "g-shipped": {},
    "g-ep4": _EP4,
    "g-ep4-short": {**_EP4, "prompt": "short"},
    "g-ep4-grounded": {**_EP4, "order": "grounded"},
    "g-ep4-all": {**_EP4, **_ALL},
    "g-ep4-all-r64": {**_EP4, **_ALL, "lora.r": 64, "lora.lora_alpha": 128},
    "g-ep4-all-short-grounded": {**_EP4, **_ALL, "prompt": "short", "order": "grounded"},
    "g-lr3e-3-ep4-all": {**_EP4, **_ALL, "sft.learning_rate": 3e-3},
    "g-ep8-all-short": {**_EP4, **_ALL, "sft.num_train_epochs": 8, "prompt": "short"},
    # the CPU budget: 192 rows x 2 epochs or 384 x 1
    "c-all-short": {**_CPU, **_ALL, "prompt": "short"},
    "c-all-short-384x1": {**_CPU, **_ALL, "prompt": "short", "max_train_rows": 384, "sft.num_train_epochs": 1},
    "c-attn-short": {**_CPU, "prompt": "short"},
    "c-all-rubric": {**_CPU, **_ALL},
    "c-all-short-grounded": {**_CPU, **_ALL, "prompt": "short", "order": "grounded"},
    "c-all-short-lr5e-3": {**_CPU, **_ALL, "prompt": "short", "sft.learning_rate": 5e-3},
    "c-all-short-grounded-nodrop": {**_CPU, **_ALL, "prompt": "short", "order": "grounded", "lora.lora_dropout": 0.0},
    "c-w10-grounded": {**_CPU, **_ALL, "prompt": "short", "order": "grounded", "lora.lora_dropout": 0.0, "label_weight": 10.0},
    "c-w10-spec": {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0, "label_weight": 10.0},
    "c-w30-spec": {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0, "label_weight": 30.0},
    "c-w10-spec-lr4e-3": {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0, "label_weight": 10.0,
                          "sft.learning_rate": 4e-3},
    "c-nodrop-spec": {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0},
    "g-ep4-all-w10": {**_EP4, **_ALL, "prompt": "short", "label_weight": 10.0},
    "g-ep4-all-w10-grounded": {**_EP4, **_ALL, "prompt": "short", "order": "grounded", "label_weight": 10.0},
    "g-ep4-all-w30": {**_EP4, **_ALL, "prompt": "short", "label_weight": 30.0},
    "g-ep2-all-w10": {**_EP4, **_ALL, "prompt": "short", "label_weight": 10.0, "sft.num_train_epochs": 2},
    "g-ep4-all-short": {**_EP4, **_ALL, "prompt": "short"},
    "g-ep8-all-w10": {**_EP4, **_ALL, "prompt": "short", "label_weight": 10.0, "sft.num_train_epochs": 8},
    "g-ep8-all-w30": {**_EP4, **_ALL, "prompt": "short", "label_weight": 30.0, "sft.num_train_epochs": 8},
    "g-ep8-all-w30-grounded": {**_EP4, **_ALL, "prompt": "short", "order": "grounded", "label_weight": 30.0,
                               "sft.num_train_epochs": 8},
    "g-ep8-all-w30-rubric": {**_EP4, **_ALL, "label_weight": 30.0, "sft.num_train_epochs": 8},
    "c-w100-spec": {**_CPU, **_ALL, "prompt": "short", "lora.lora_dropout": 0.0, "label_weight": 100.0},
    # many small steps instead of a few larger ones: 344 optimizer steps (the count at which the GPU profile learns
    # severity) of one row each
    "c-bs1-344-w10": {**_SMALL, "sft.per_device_train_batch_size": 1, "max_train_rows": 344, "sft.num_train_epochs": 1},
    "c-bs1-344-w10-lr2e-3": {**_SMALL, "sft.per_device_train_batch_size": 1, "max_train_rows": 344,
                             "sft.num_train_epochs": 1, "sft.learning_rate": 2e-3},
    "c-bs1-344x2-w10": {**_SMALL, "sft.per_device_train_batch_size": 1, "max_train_rows": 344, "sft.num_train_epochs": 2},
    "c-bs1-512-w10": {**_SMALL, "sft.per_device_train_batch_size": 1, "max_train_rows": 512, "sft.num_train_epochs": 1},
    "c-bs2-344x2-w10": {**_SMALL, "sft.per_device_train_batch_size": 2, "max_train_rows": 344, "sft.num_train_epochs": 2},
    # params.yaml's defaults as they are (on_cuda on a GPU), with the short prompt prepare writes
    "g-default": {"prompt": "short"},
    # does 8 epochs learn severity without the label weight? (left open on 2026-12-02)
    "g-ep8-all-short-w1": {**_EP4, **_ALL, "prompt": "short", "sft.num_train_epochs": 8},
    # 2026-12-03, severity written as a word (notes/decision.md section 5), in params.yaml's CPU shape as it is
    # (192 rows once, 4 a step, lr 2e-3, label weight 10) and in its GPU profile; c-now is the control
    "c-now": {**_NOW, "prompt": "short"},
    "c-now-words": {**_NOW, "prompt": "short", "values": "words"},
    "c-now-words-w1": {**_NOW, "prompt": "short", "values": "words", "label_weight": 1.0},
    "c-now-words-96": {**_NOW, "prompt": "short", "values": "words", "max_train_rows": 96},
    "c-now-words-384": {**_NOW, "prompt": "short", "values": "words", "max_train_rows": 384},
    "g-default-words": {"prompt": "short", "values": "words"},
    # 2026-12-04: how many row passes does severity as a word need? The GPU profile (16 a step, lr 1e-3) at fewer
    # epochs, and the CPU's step shape (4 a step, lr 2e-3) over more rows than the CPU budget holds
    "g-ep4-words": {"prompt": "short", "values": "words", "sft.num_train_epochs": 4},
    "g-ep2-words": {"prompt": "short", "values": "words", "sft.num_train_epochs": 2},
    "c-words-all1": {**_NOW, "prompt": "short", "values": "words", "max_train_rows": None},
    "c-words-all2": {**_NOW, "prompt": "short", "values": "words", "max_train_rows": None, "sft.num_train_epochs": 2},
    # the same row passes in more, smaller steps (a CPU pays per row, not per step)
    "c-words-bs2-340": {**_W, "sft.per_device_train_batch_size": 2, "max_train_rows": 340},
    "c-words-bs2-256": {**_W, "sft.per_device_train_batch_size": 2, "max_train_rows": 256},
    "c-words-bs1-256": {**_W, "sft.per_device_train_batch_size": 1, "max_train_rows": 256, "sft.learning_rate": 1e-3},
    "c-words-bs1-256-lr2e-3": {**_W, "sft.per_device_train_batch_size": 1, "max_train_rows": 256},
    "c-words-bs1-384": {**_W, "sft.per_device_train_batch_size": 1, "max_train_rows": 384, "sft.learning_rate": 1e-3},
    "c-words-384-lr4e-3": {**_W, "max_train_rows": 384, "sft.learning_rate": 4e-3},
    "c-words-384-w30": {**_W, "max_train_rows": 384, "label_weight": 30.0},
    "c-words-192x2": {**_W, "sft.num_train_epochs": 2},
    "c-words-512": {**_W, "max_train_rows": 512},
    "c-words-512-lr4e-3": {**_W, "max_train_rows": 512, "sft.learning_rate": 4e-3},
    "c-words-all1-lr4e-3": {**_W, "max_train_rows": None, "sft.learning_rate": 4e-3},
}
# Since issue 33 (real training texts): which sources' training rows a case trains on (`sources`: generated | real |
# both; default generated, the meaning of every case above), how many of each (`gen_rows`, `real_rows`: the first N
# of prepare's seeded shuffle, as prepare.mix picks them), `real_repeat` (each real row k times) and `labels`
# (`first`: the real rows' severities before the adjudication of data/real/TRAIN.md; `severe` / `severe23`: lifted to
# the most severe label their severity_ok accepts, or SEV3 -> SEV2 only; default: as the corpus has them).
_MIX = {"prompt": "short", "values": "words"}
CASES |= {
    "g-gen": {**_MIX, "sources": "generated"},
    "g-real": {**_MIX, "sources": "real"},
    "g-both": {**_MIX, "sources": "both"},
    "g-real-ep8": {**_MIX, "sources": "real", "sft.num_train_epochs": 8},
    "g-real-ep2": {**_MIX, "sources": "real", "sft.num_train_epochs": 2},
    "g-real-lr5e-4": {**_MIX, "sources": "real", "sft.learning_rate": 5e-4},
    "g-real-lr2e-3": {**_MIX, "sources": "real", "sft.learning_rate": 2e-3},
    "g-both-ep2": {**_MIX, "sources": "both", "sft.num_train_epochs": 2},
    "g-both-ep8": {**_MIX, "sources": "both", "sft.num_train_epochs": 8},
    "g-both-x2": {**_MIX, "sources": "both", "real_repeat": 2},
    "g-both-lr5e-4": {**_MIX, "sources": "both", "sft.learning_rate": 5e-4},
    "g-both-w1": {**_MIX, "sources": "both", "label_weight": 1.0},
    "g-both-spec": {"prompt": "short", "values": "spec", "sources": "both"},
    "g-real-spec": {"prompt": "short", "values": "spec", "sources": "real"},
    "g-both-rubric": {"prompt": "rubric", "values": "words", "sources": "both"},
    "g-real-rubric": {"prompt": "rubric", "values": "words", "sources": "real"},
    # the CPU default's shape (4 a step, lr 2e-3, one pass) on each source
    "c-gen": {**_W, "max_train_rows": None, "sources": "generated"},
    "c-real": {**_W, "max_train_rows": None, "sources": "real"},
    "c-both": {**_W, "max_train_rows": None, "sources": "both"},
    "c-real-ep2": {**_W, "max_train_rows": None, "sources": "real", "sft.num_train_epochs": 2},
    "c-real-lr1e-3": {**_W, "max_train_rows": None, "sources": "real", "sft.learning_rate": 1e-3},
}
# 2026-12-07: the corpus's severities as the collectors gave them, before the adjudication of data_loss / security
# records (data/real/TRAIN.md; `labels: first`), against the adjudicated ones (every other case).
CASES |= {
    "g-both-first": {**_MIX, "sources": "both", "labels": "first"},
    "g-real-first": {**_MIX, "sources": "real", "labels": "first"},
    "c-both-first": {**_W, "max_train_rows": None, "sources": "both", "labels": "first"},
    # 2026-12-07 (night): the training severities lifted toward the blind annotators' (notes/decision.md section 14)
    "g-both-severe": {**_MIX, "sources": "both", "labels": "severe"},
    "g-both-severe23": {**_MIX, "sources": "both", "labels": "severe23"},
    "g-real-severe23": {**_MIX, "sources": "real", "labels": "severe23"},
}
# The data-scaling curve (notes/decision.md section 10): N real rows, with or without every generated row beside
# (g-gen, g-real and g-both are its 0 and all-rows points).
for _n in (50, 100, 200, 400):
    CASES[f"g-real{_n}"] = {**_MIX, "sources": "real", "real_rows": _n}
    CASES[f"g-both{_n}"] = {**_MIX, "sources": "both", "real_rows": _n}
DATA_KEYS = ("prompt", "order", "values", "sources", "gen_rows", "real_rows", "real_repeat", "labels")
# Every case: no checkpoints and no validation passes (the final eval loss is still computed once).
HARNESS = {"sft.save_strategy": "no", "sft.eval_strategy": "no"}


def case_params(base: params.Train, overrides: dict) -> params.Train:
    """train_lora's params for this device with `overrides` (dotted keys) applied, on_cuda folded in."""
    p = base.for_device(torch.cuda.is_available()).model_copy(update={"on_cuda": None})
    data = p.model_dump()
    for key, value in overrides.items():
        if key in DATA_KEYS:
            continue
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node[part]
        node[last] = value
    return params.Train.model_validate(data)


def rewrite(rows: list[dict], prompt: str, order: str, values: str = "spec") -> list[dict]:
    """Prepared triage rows with another system prompt, answer key order and label values (same reports and labels)."""
    out = []
    for row in rows:
        gold = json.loads(row["messages"][-1]["content"])
        messages = [*triage.prompt(row["messages"][-2]["content"], prompt),
                    {"role": "assistant", "content": triage.from_spec(triage.dumps(gold, order), values)}]
        out.append({**row, "messages": messages})
    return out


# Recipes are chosen on the development set of real reports (data/real/DEV.md), never on the held-out split the
# pipeline reports (data/real/reports.jsonl): --real changes it.
# Several files may be scored (--real, repeated): each is a split named by its file's stem (dev, reports).
REAL = [Path("data/real/dev.jsonl")]


def real_splits() -> dict[str, list[dict]]:
    return {path.stem: read_jsonl(path) for path in REAL if path.is_file()}


def score_generated(model, tokenizer, reports, golds, prompt, constrain, batch_size, max_new_tokens, values="spec"):
    """(aggregate scores, per-row scores, raw replies) of one decoding on one split; replies are scored after
    their label values are put back to the spec's (triage.to_spec)."""
    replies = generation.generate(model, tokenizer, [triage.prompt(r, prompt) for r in reports], max_new_tokens,
                                  batch_size, desc="constrained" if constrain else "greedy",
                                  constrain=triage.enums(values) if constrain else None)
    rows = [metrics.score_row(triage.to_spec(text, values), gold, report)
            for (text, _), gold, report in zip(replies, golds, reports)]
    out = {m: round(sum(r[m] for r in rows) / len(rows), 4)
           for m in ("format_conformance", "severity_accuracy", "category_accuracy", "severity_exact", "category_exact",
                     "services_f1")}
    return out, rows, [text for text, _ in replies]


def against(rows: list[dict], reference: list[dict]) -> dict:
    """The bar of notes/decision.md: the paired difference (and its 95% interval) from a baseline's rows."""
    d = metrics.compare(reference, [{"id": ref["id"], **row} for ref, row in zip(reference, rows)], metrics.LABEL_METRICS)
    return {m: [d[m], d[m + "_ci_low"], d[m + "_ci_high"]] for m in metrics.LABEL_METRICS}


def training_rows(overrides: dict) -> list[dict]:
    """The case's training rows out of data/prepared/train.jsonl (prepared with every row of both sources): the
    first N of each source as prepare.mix would pick them (the same seeded shuffle, ftlab.data.gate.first_n)."""
    rows, seed = read_jsonl(Path("data/prepared/train.jsonl")), params.load("prepare").seed
    chosen = overrides.get("sources", "generated")
    picked = {source: gate.first_n([r for r in rows if r.get("source", "generated") == source],
                                   overrides.get({"generated": "gen_rows", "real": "real_rows"}[source]), seed)
              if chosen in (source, "both") else [] for source in ("generated", "real")}
    if overrides.get("labels") == "first":  # the collectors' severities, before data/real/train_adjudication.jsonl
        before = {r["id"]: r["severity_before"] for r in read_jsonl(Path("data/real/train_adjudication.jsonl"))}
        picked["real"] = [_with_severity(r, before[r["id"]]) if r["id"] in before else r for r in picked["real"]]
    elif overrides.get("labels") in ("severe", "severe23"):
        # Blind second annotators are more severe than the collectors (data/real/TRAIN.md "Fourth round", DEV.md
        # "Second part"): train on the most severe label the row's severity_ok accepts (`severe`), or only lift SEV3
        # rows that accept SEV2 (`severe23`, the edge where the held-out confusion and the blind labels point).
        ok = {r["id"]: r["severity_ok"] for r in read_jsonl(Path("data/real/train.jsonl"))}
        lift = (lambda r: min(ok[r["id"]])) if overrides["labels"] == "severe" else (
            lambda r: "SEV2" if r["severity"] == "SEV3" and "SEV2" in ok[r["id"]] else r["severity"])
        picked["real"] = [_with_severity(r, lift(r)) for r in picked["real"]]
    repeat = overrides.get("real_repeat", 1)
    return picked["generated"] + [dict(r, id=f"{r['id']}#{k}" if k else r["id"]) for k in range(repeat) for r in picked["real"]]


def _with_severity(row: dict, severity: str) -> dict:
    """A prepared row whose label (its `severity` field and the answer's) is `severity`."""
    answer = json.loads(row["messages"][-1]["content"])
    answer["severity"] = severity
    messages = [*row["messages"][:-1], {**row["messages"][-1], "content": json.dumps(answer, ensure_ascii=False)}]
    return {**row, "severity": severity, "messages": messages}


def label_scores(model, tokenizer, real: list[dict], prompt: str, order: str, values: str) -> dict:
    """Likelihood scoring of the labels on real reports: each allowed value's log-probability where the label
    goes, after the answer's prefix (ftlab.eval.generation.answer_scores). Severity comes first in the spec's order, so its
    prefix holds nothing of the answer; category's holds the gold severity (teacher-forced)."""
    chats = rewrite([sources.real_to_chat(r, prompt, order) for r in real], prompt, order, values)
    scores = generation.answer_scores(model, tokenizer, [c["messages"] for c in chats], triage.enums(values))
    out = {}
    for field, allowed in triage.ENUMS.items():
        spec = dict(zip(triage.enums(values)[field], allowed))
        out[f"{field}_accuracy"] = round(sum(spec.get(s.get(f"{field}_scored")) in r.get(f"{field}_ok", [r[field]])
                                             for s, r in zip(scores, real)) / len(real), 4)
    # Every row's log-probabilities, in the spec's values, for decision rules studied after the run (notes/decision.md).
    out["rows"] = [{"id": r["id"], **{field: [s[f"{field}_logprobs"][v] for v in triage.enums(values)[field]]
                                      for field in triage.ENUMS if f"{field}_logprobs" in s}}
                   for s, r in zip(scores, real)]
    return out


def baselines_only(name: str, overrides: dict) -> dict:
    """A case's reference points without training: the majority class and the classic baseline fitted on the case's
    rows, scored on every real split (the data-scaling curve's classic line costs seconds)."""
    train_rows = training_rows(overrides)
    references = {split: by_kind for split, by_kind in reference_rows(train_rows).items() if split != "test"}
    return {"case": name, "seed": None, "overrides": overrides,
            "train_rows": {s: sum(r.get("source", "generated") == s for r in train_rows) for s in ("generated", "real")},
            "baselines": {f"{split}_{kind}_{m}": round(sum(r[m] for r in rows) / len(rows), 4)
                          for split, by_kind in references.items() for kind, rows in by_kind.items()
                          for m in metrics.LABEL_METRICS}}


def run_case(name: str, overrides: dict, seed: int, args, work: Path) -> dict:
    p = case_params(params.load("train_lora"), {**HARNESS, **overrides, "sft.seed": seed})
    prompt, order, values = overrides.get("prompt", "rubric"), overrides.get("order", "spec"), overrides.get("values", "spec")
    data = work / f"{name}-s{seed}" / "data"
    data.mkdir(parents=True, exist_ok=True)
    train_rows = training_rows(overrides)
    write_jsonl(data / "train.jsonl", rewrite(train_rows, prompt, order, values))
    for split in ("val", "test"):
        write_jsonl(data / f"{split}.jsonl", rewrite(read_jsonl(Path("data/prepared") / f"{split}.jsonl"), prompt, order, values))
    # As prepare writes it: the adapter records the prompt and key order its rows were written with (without it,
    # the adapter's ftlab_base.json said "rubric" for every case, and `ftlab predict` asked short-prompt adapters
    # with the rubric: severity on real reports 0.74 -> 0.21, issue 30).
    write_json(data / "meta.json", {"task": "triage", "shape": "triage", "prompt": prompt, "answer_order": order})
    started = time.perf_counter()
    if args.reuse and (data.parent / "train.json").is_file():  # the adapter a previous run of this case saved
        trainer, trained = None, read_json(data.parent / "train.json")
        model, tokenizer = models.load_for_inference(data.parent / "adapter")
    else:
        trainer, trained = train.train(data, data.parent / "adapter", data.parent / "train.json", p)
        model, tokenizer = trainer.model, trainer.processing_class
    model.eval()
    test = read_jsonl(data / "test.jsonl")[: args.eval_rows]
    scores = generation.answer_scores(model, tokenizer, [r["messages"] for r in test], triage.enums(values))
    result = {"case": name, "seed": seed, "overrides": overrides, "params": p.model_dump(mode="json"),
              "train_rows": {s: sum(r.get("source", "generated") == s for r in train_rows) for s in ("generated", "real")},
              "train": trained, "answer_loss": round(sum(s["answer_loss"] for s in scores) / len(scores), 4)}
    for field in triage.ENUMS:
        got = [s for s in scores if f"{field}_scored" in s]
        result[f"{field}_label_loss"] = round(sum(s[f"{field}_label_loss"] for s in got) / len(got), 4)
        result[f"{field}_scored_accuracy"] = round(
            sum(s[f"{field}_scored"] == triage.enums(values)[field][triage.ENUMS[field].index(r[field])]
                for s, r in zip(scores, test) if f"{field}_scored" in s) / len(got), 4)
    if args.score_only:  # likelihood scoring of the labels on the real files, nothing decoded
        for name, rows in real_splits().items():
            result[f"{name}_scored"] = label_scores(model, tokenizer, rows[: args.eval_rows], prompt, order, values)
    elif args.generate:
        splits = {} if args.no_test else {
            "test": ([r["messages"][-2]["content"] for r in test],
                     [json.loads(triage.to_spec(r["messages"][-1]["content"], values)) for r in test])}
        for name, rows in real_splits().items():
            rows = rows[: args.eval_rows]
            splits[name] = ([r["report"] for r in rows], rows)
            result[f"{name}_scored"] = label_scores(model, tokenizer, rows, prompt, order, values)
        references = {split: {kind: rows[: args.eval_rows] for kind, rows in by_kind.items()}
                      for split, by_kind in reference_rows(train_rows).items() if split in splits}
        result["baselines"] = {f"{split}_{kind}_{m}": round(sum(r[m] for r in rows) / len(rows), 4)
                               for split, by_kind in references.items() for kind, rows in by_kind.items()
                               for m in metrics.LABEL_METRICS}
        for split, (reports, golds) in splits.items():
            for constrain in (True,) if args.constrained_only else (False, True):
                key = f"{split}_{'constrained' if constrain else 'greedy'}"
                result[key], rows, texts = score_generated(model, tokenizer, reports, golds, prompt, constrain,
                                                           args.batch_size, args.max_new_tokens, values)
                if constrain:
                    result[f"{split}_vs"] = {kind: against(rows, references[split][kind]) for kind in references[split]}
                # `ftlab predict`'s format (id, report, the reply in the spec's values), so `ftlab score REPLIES
                # LABELS --train ...` scores them against any labels file, e.g. a blind second annotation.
                write_jsonl(data.parent / f"{key}.jsonl",
                            [{"id": g.get("id", i), "report": report, "output": triage.to_spec(t, values)}
                             for i, (t, g, report) in enumerate(zip(texts, golds, reports))])
    result["seconds"] = round(time.perf_counter() - started, 1)
    del model, trainer
    return result


def reference_rows(train_rows: list[dict]) -> dict:
    """Each baseline's scored rows per split, fitted on the case's training rows (ftlab.eval.evaluation.baseline_rows)."""
    from ftlab.eval import evaluation

    fitted = baselines.fit_all(train_rows)
    test = read_jsonl(Path("data/prepared/test.jsonl"))
    splits = {"test": evaluation.Split("test", [r["id"] for r in test], [triage.report_of(r) for r in test],
                                       [{"severity": r["severity"], "category": r["category"]} for r in test], [], [])}
    for name, real in real_splits().items():
        splits[name] = evaluation.Split(name, [r["id"] for r in real], [r["report"] for r in real], real, [], [])
    return {name: evaluation.baseline_rows(fitted, split) for name, split in splits.items()}


def classic() -> dict:
    train_rows = read_jsonl(Path("data/prepared/train.jsonl"))
    test = read_jsonl(Path("data/prepared/test.jsonl"))
    out = {}
    fitted = baselines.fit_all(train_rows)
    for split, rows in (("test", test), *real_splits().items()):
        if not rows:
            continue
        for kind, predicted in baselines.predict(fitted, rows).items():
            for field in triage.ENUMS:
                out[f"{split}_{kind}_{field}"] = round(
                    sum(p[field] in r.get(f"{field}_ok", [r[field]]) for p, r in zip(predicted, rows)) / len(rows), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    parser.add_argument("--out", type=Path, required=True, help="decision.json goes here")
    parser.add_argument("--work", type=Path, help="adapters and replies (default: OUT/work)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated names of CASES")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--generate", action="store_true", help="also generate and score replies (test + real)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the adapter a previous run of the case left in WORK instead of training again")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="an override added to every case, e.g. --set max_train_rows=64")
    parser.add_argument("--real", type=Path, action="append",
                        help="real reports with labels, a split named by the file's stem; repeat for several "
                             "(default: the development set, data/real/dev.jsonl)")
    parser.add_argument("--constrained-only", action="store_true", help="decode only under the label constraints")
    parser.add_argument("--no-test", action="store_true", help="do not generate on the generated test split")
    parser.add_argument("--score-only", action="store_true",
                        help="score the labels' likelihoods on the real files, decode nothing (a quarter of a case's time)")
    parser.add_argument("--baselines-only", action="store_true",
                        help="no training: each case's majority and classic baselines on the real splits")
    parser.add_argument("--eval-rows", type=int, default=None, help="score only the first N rows of each split (a smoke test)")
    args = parser.parse_args()
    globals()["REAL"] = args.real or REAL
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"device": device.device_name(),
               "baselines": classic(), "cases": []}
    print(json.dumps(results["baselines"]), flush=True)
    for name in args.cases.split(","):
        if args.baselines_only:
            results["cases"].append(baselines_only(name, {**CASES[name], **extra}))
            print(json.dumps(results["cases"][-1]["baselines"]), flush=True)
            write_json(args.out / "decision.json", results)
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            results["cases"].append(run_case(name, {**CASES[name], **extra}, seed, args, args.work or args.out / "work"))
            row = {k: v for k, v in results["cases"][-1].items() if k not in ("params", "overrides")}
            print(json.dumps(row), flush=True)
            write_json(args.out / "decision.json", results)


if __name__ == "__main__":
    main()
