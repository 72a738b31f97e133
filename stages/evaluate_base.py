"""python stages/evaluate_base.py

What the base model gets without fine-tuning, and what counting words gets, on every evaluation split
(ftlab/eval/evaluation.py: the generated test rows and the real reports): `base` zero-shot with the rubric
prompt, `base_fewshot` with evaluate.few_shot_k training examples, `qlora_base` (the QLoRA base in 4 bits),
the forgetting probe of both bases, and the label baselines `majority` and `classic` fitted on the
training split. A stage of its own, so DVC re-runs it only when the data, the base models or the
evaluate params change, not when a training param does. Writes data/eval_base/ (scored rows per split and
variant, probe replies, probe.json, judge.json); stages/evaluate.py reads it.
"""
import json

import torch

from ftlab import contracts, device, models, params, stage, tasks
from ftlab.eval import baselines, evaluation, metrics, probe
from ftlab.io import read_jsonl, write_json

DATA, OUT, JUDGE_CACHE = contracts.PREPARED, contracts.EVAL_BASE, contracts.JUDGE_CACHE_BASE


def main() -> None:
    device.claim_gpus()  # one GPU, a free one when several runs share a box (dvc queue -j N)
    p = params.load("evaluate")
    cuda = torch.cuda.is_available()
    bases = {"base": params.load("train_lora").for_device(cuda), "qlora_base": params.load("train_qlora").for_device(cuda)}
    evaluation.check_judge(p)  # a missing key for the Claude judge stops the stage before any work
    task = tasks.get(contracts.prepared_meta(DATA)["task"])
    splits = evaluation.load_splits(DATA, p.max_rows, task)
    train_rows = read_jsonl(DATA / "train.jsonl")
    # The first k training rows: prepare deals the split round-robin over the labels, so they are k different cells.
    if len(train_rows) < p.few_shot_k:
        raise stage.StageError(f"evaluate.few_shot_k: {p.few_shot_k} examples, but {DATA / 'train.jsonl'} has "
                               f"{len(train_rows)} rows; lower few_shot_k")
    shots = train_rows[: p.few_shot_k]
    probes, general_text = probe.load(), probe.GENERAL_TEXT.read_text()
    used, probed = {}, {}
    with stage.staged(OUT) as out:
        for name, t in bases.items():
            model, tokenizer = models.load_base(t.base_model, t.bnb)
            for split in splits.values():
                variants = {name: ()} | ({metrics.FEW_SHOT: shots} if name == "base" and shots else {})
                for variant, examples in variants.items():
                    rows, used[f"{split.name}_{variant}"] = evaluation.run(
                        model, tokenizer, variant, split, evaluation.prompts(split, "rubric", examples, task), p, task, JUDGE_CACHE)
                    evaluation.save(out, split.name, variant, rows)
            replies = probe.run(model, tokenizer, probes, p.probe_max_new_tokens, p.batch_size)
            evaluation.save(out, "probe", name, replies)
            probed[name] = probe.summary(replies) | {"general_perplexity": probe.perplexity(model, tokenizer, general_text)}
            del model
        if metrics.baseline_names(task):  # fitted on the training split only
            fitted = baselines.fit_all(train_rows)
            for split in splits.values():
                for kind, rows in evaluation.baseline_rows(fitted, split).items():
                    evaluation.save(out, split.name, kind, rows)
        write_json(out / "probe.json", probed)
        write_json(out / "judge.json", used)
        write_json(out / "device.json", {"device": device.device_name()})
    print(json.dumps(probed, indent=2))


if __name__ == "__main__":
    stage.run(main)
