"""python stages/evaluate.py

Was fine-tuning the right tool? On the same test rows, greedy decoding, one run:
- `base` (zero-shot) and `base_fewshot` (k training examples in the prompt): what prompting gets;
- `lora` against `base`, and `qlora` against `qlora_base` (the same base in 4 bits): each fine-tune
  against the very same weights with the adapter switched off, so the difference is the adapter's;
- the forgetting probe (ftlab/probe.py) for each base and fine-tune.
Per-row outputs and scores go to data/eval/<model>.jsonl (probe replies: probe_<model>.jsonl);
metrics per model with bootstrap 95% intervals to metrics/eval.json; every comparison (delta, paired
bootstrap 95% interval, flips) to metrics/delta.json.
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ftlab import generation, judge, metrics, models, params, probe, triage
from ftlab.io import DataFileError, read_jsonl, write_json, write_jsonl

models.claim_gpus()  # one GPU, a free one when several runs share a box (dvc queue -j N)

OUT = Path("data/eval")
JUDGE_CACHE = Path("data/judge_cache")  # a persist out: verdicts survive re-runs, so none is paid twice

p = params.load("evaluate")
try:
    judge.check_key(p.judge)  # a missing key for the Claude judge stops the stage before any work
except judge.JudgeError as e:
    sys.exit(f"error: evaluate.judge: {e}")
try:
    task = json.loads(Path("data/prepared/meta.json").read_text())["task"]  # "triage" or "generic"
    rows = read_jsonl(Path("data/prepared/test.jsonl"))[: p.max_rows]
    # The first k training rows: prepare deals the split round-robin over severity x category cells,
    # so they are k different cells, not k rows of the same label.
    shots = read_jsonl(Path("data/prepared/train.jsonl"))[: p.few_shot_k]
    probes = probe.load()
    general_text = probe.GENERAL_TEXT.read_text()
except (DataFileError, OSError, json.JSONDecodeError, KeyError) as e:
    sys.exit(f"error: {e}; run the prepare stage first (dvc repro)")
if not rows:
    sys.exit("error: data/prepared/test.jsonl has no rows; raise prepare.test_fraction or generate_data.n_rows")
# Triage rows get the spec's metrics; any other data set (prepare's meta.json says which) only the
# task-free ones: the loss of the reference answer, and the forgetting probe.
NAMES = (*metrics.METRICS, *metrics.GENERIC_METRICS) if task == "triage" else metrics.GENERIC_METRICS
prompts = [r["messages"][:-1] for r in rows]
answers = [r["messages"][-1] for r in rows]
golds = [json.loads(a["content"]) if task == "triage" else None for a in answers]
reports = [r["messages"][-2]["content"] for r in rows]
# Few-shot: the same system prompt, then each example as a user turn and its gold answer, then the report.
examples = [m for s in shots for m in s["messages"] if m["role"] != "system"]
few_shot_prompts = [[*prompt[:1], *examples, *prompt[1:]] if prompt[0]["role"] == "system" else [*examples, *prompt]
                    for prompt in prompts]


def run(name, model, tokenizer, chat_prompts) -> list[dict]:
    try:
        replies = generation.generate(model, tokenizer, chat_prompts, p.max_new_tokens, p.batch_size, desc=name)
    except generation.PromptTooLong as e:  # e.g. few_shot_k long examples before a long report
        shutil.rmtree(staging)
        sys.exit(f"error: {name}: test row {rows[e.index]['id']}: {e.tokens} prompt tokens plus evaluate.max_new_tokens "
                 f"exceed the model's context of {e.context}; lower evaluate.few_shot_k or max_new_tokens")
    losses = generation.answer_loss(model, tokenizer, [[*c, a] for c, a in zip(chat_prompts, answers)])
    out = [
        {"id": row["id"], **(metrics.score_row(text, gold, report) if gold else {}), "answer_loss": loss,
         "latency_s": round(seconds, 3), "output": text}
        for row, gold, report, loss, (text, seconds) in zip(rows, golds, reports, losses, replies)
    ]
    if task == "triage":  # faithfulness from the judge in params (offline: the same deterministic score)
        try:
            faith, judge_metrics[name] = judge.scores(
                p.judge, [(rep, triage.parse_lenient(r["output"])) for rep, r in zip(reports, out)], JUDGE_CACHE)
        except judge.JudgeError as e:
            shutil.rmtree(staging)
            sys.exit(130 if e.interrupted else f"error: evaluate.judge: {e}")
        for r, f in zip(out, faith):
            r["faithfulness"] = f
    write_jsonl(staging / f"{name}.jsonl", out)
    return out


def run_probe(name, model, tokenizer) -> dict:
    replies = probe.run(model, tokenizer, probes, p.probe_max_new_tokens, p.batch_size)
    write_jsonl(staging / f"probe_{name}.jsonl", replies)
    probed[name] = replies
    return probe.summary(replies) | {"general_perplexity": probe.perplexity(model, tokenizer, general_text)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Outputs are staged in data/.eval-<pid>-*/ and renamed to data/eval only when every model is scored,
# so a killed run never leaves a data/eval that looks complete. A killed run's staging directory is
# removed here, at the next run (only those of processes that are gone).
OUT.parent.mkdir(parents=True, exist_ok=True)
for stale in OUT.parent.glob(".eval-*"):
    pid = stale.name.split("-")[1]
    if stale.is_dir() and (not pid.isdigit() or not _alive(int(pid))):
        shutil.rmtree(stale, ignore_errors=True)
staging = Path(tempfile.mkdtemp(dir=OUT.parent, prefix=f".eval-{os.getpid()}-"))
scored, probed, probe_metrics, judge_metrics = {}, {}, {}, {}
# Each adapter must be evaluated on the base it was trained on (its ftlab_base.json, written by the train
# stage): a base of the same shape but other weights would load without an error and give meaningless
# numbers. Both are checked before any work.
for finetune, (base_name, stage) in metrics.PAIRS.items():
    spec = params.load(stage).base_model.model_dump()
    trained_on = Path("models") / finetune / models.BASE_FILE
    was = json.loads(trained_on.read_text()).get("base_model") if trained_on.is_file() else None
    if was != spec:
        shutil.rmtree(staging)
        sys.exit(f"error: models/{finetune}: trained on base_model {was} ({trained_on}), but params.yaml {stage}.base_model "
                 f"is {spec}; run {stage} again (dvc repro) or restore the params")
for finetune, (base_name, stage) in metrics.PAIRS.items():
    try:  # the base as the adapter was trained on it (4 bits, compute dtype: its ftlab_base.json), plus the adapter
        model, tokenizer = models.load_for_inference(Path("models") / finetune)
    except models.ModelSourceError as e:
        shutil.rmtree(staging)
        sys.exit(f"error: {stage}.{e}")
    with model.disable_adapter():  # the very same weights minus the adapter: an exact before/after
        scored[base_name] = run(base_name, model, tokenizer, prompts)
        if finetune == "lora" and shots:
            scored[metrics.FEW_SHOT] = run(metrics.FEW_SHOT, model, tokenizer, few_shot_prompts)
        probe_metrics[base_name] = run_probe(base_name, model, tokenizer)
    scored[finetune] = run(finetune, model, tokenizer, prompts)
    probe_metrics[finetune] = run_probe(finetune, model, tokenizer)
    del model

if OUT.exists():
    shutil.rmtree(OUT)
staging.rename(OUT)

results = {name: metrics.aggregate(rows, NAMES) | probe_metrics.get(name, {}) | judge_metrics.get(name, {})
           for name, rows in scored.items()}
comparisons = {finetune: base for finetune, (base, _) in metrics.PAIRS.items()}
if shots:  # prompting vs base, then each fine-tune vs prompting: the decision the report is for
    comparisons |= {metrics.FEW_SHOT: "base", "lora_vs_fewshot": metrics.FEW_SHOT, "qlora_vs_fewshot": metrics.FEW_SHOT}
deltas = {}
for name, base in comparisons.items():
    tuned = name.removesuffix("_vs_fewshot")
    deltas[name] = metrics.compare(scored[base], scored[tuned], NAMES)
    for key in ("severity_macro_f1", "latency_s"):
        if key in results[base]:
            deltas[name][key] = round(results[tuned][key] - results[base][key], 4)
    if tuned in probed and base in probed:  # forgetting: the fine-tune against its own base
        deltas[name] |= metrics.compare(probed[base], probed[tuned], probe.METRICS)
        deltas[name]["general_perplexity"] = round(results[tuned]["general_perplexity"] - results[base]["general_perplexity"], 3)
write_json(Path("metrics/eval.json"), results)
write_json(Path("metrics/delta.json"), deltas)
print(json.dumps({name: {m: d[m] for m in NAMES} for name, d in deltas.items()}, indent=2))
