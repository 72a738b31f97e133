"""python stages/evaluate.py

Was fine-tuning the right tool? Each fine-tune (models/lora, models/qlora, with the prompt each was trained
with) on every evaluation split (ftlab/eval/evaluation.py), plus the forgetting probe, beside what
stages/evaluate_base.py scored: the base zero-shot and few-shot, the 4-bit base, the majority and classic
baselines. Writes data/eval/ (the fine-tunes' scored rows), metrics/eval.json ({split: {variant: metrics
with bootstrap 95% intervals}}, the probe, the transfer gap) and metrics/delta.json ({split: {comparison:
paired deltas with intervals and flips}}: each fine-tune against its own base, few-shot prompting, and the
classic and majority baselines).
"""
import json

import torch

from ftlab import contracts, device, models, params, stage, tasks
from ftlab.eval import evaluation, metrics, probe
from ftlab.io import read_json, write_json

DATA, BASE, OUT, JUDGE_CACHE = contracts.PREPARED, contracts.EVAL_BASE, contracts.EVAL, contracts.JUDGE_CACHE


def check_bases(cuda: bool) -> None:
    """Each adapter must be evaluated on the base it was trained on, the one evaluate_base scored: a base of the
    same shape but other weights would load without an error and give meaningless numbers."""
    for finetune, (_, stage_name) in metrics.PAIRS.items():
        t = params.load(stage_name).for_device(cuda)
        info = models.adapter_info(contracts.adapter_dir(stage_name))
        if info.get("base_model") != t.base_model.model_dump() or info["bnb"] != t.bnb:
            raise stage.StageError(f"{contracts.adapter_dir(stage_name)}: trained on base_model {info.get('base_model')} (bnb {info['bnb']}), "
                                   f"but params.yaml {stage_name} gives {t.base_model.model_dump()} (bnb {t.bnb}); "
                                   f"run {stage_name} again (dvc repro) or restore the params")


def main() -> None:
    device.claim_gpus()
    p = params.load("evaluate")
    evaluation.check_judge(p)
    check_bases(torch.cuda.is_available())
    task = tasks.get(contracts.prepared_meta(DATA)["task"])
    splits = evaluation.load_splits(DATA, p.max_rows, task)
    kinds = (*evaluation.BASES, *metrics.baseline_names(task))
    scored = {s: {k: evaluation.load(BASE, s, k) for k in kinds if (BASE / f"{s}_{k}.jsonl").is_file()} for s in splits}
    probed = {k: evaluation.load(BASE, "probe", k) for k in ("base", "qlora_base")}
    probe_summary, used = read_json(BASE / "probe.json"), read_json(BASE / "judge.json")
    with stage.staged(OUT) as out:
        for finetune, (_, stage_name) in metrics.PAIRS.items():
            model, tokenizer = models.load_for_inference(contracts.adapter_dir(stage_name))
            info = models.adapter_info(contracts.adapter_dir(stage_name))  # the prompt and label values it was trained with
            for split in splits.values():
                rows, used[f"{split.name}_{finetune}"] = evaluation.run(
                    model, tokenizer, finetune, split, evaluation.prompts(split, info["prompt"], (), task), p, task,
                    JUDGE_CACHE, info["label_values"])
                evaluation.save(out, split.name, finetune, rows)
                scored[split.name][finetune] = rows
            probed[finetune] = probe.run(model, tokenizer, probe.load(), p.probe_max_new_tokens, p.batch_size)
            evaluation.save(out, "probe", finetune, probed[finetune])
            probe_summary[finetune] = probe.summary(probed[finetune]) | {
                "general_perplexity": probe.perplexity(model, tokenizer, probe.GENERAL_TEXT.read_text())}
            del model
    summary = evaluation.summarize(scored, task)
    for key, usage in used.items():  # the Claude judge's tokens and cost, per split and variant
        split, _, variant = key.partition("_")
        summary[split][variant] |= usage
    deltas = evaluation.deltas(scored, summary, task)
    deltas["probe"] = {ft: metrics.compare(probed[base], probed[ft], probe.METRICS)
                       | {"general_perplexity": round(probe_summary[ft]["general_perplexity"]
                                                      - probe_summary[base]["general_perplexity"], 3)}
                       for ft, (base, _) in metrics.PAIRS.items()}
    devices = {"evaluate_base": read_json(BASE / "device.json")["device"] if (BASE / "device.json").is_file() else None,
               "evaluate": device.device_name()}
    write_json(contracts.EVAL_METRICS, {**summary, "probe": probe_summary, "transfer_gap": evaluation.transfer_gap(summary),
                                           "device": devices})
    write_json(contracts.DELTA_METRICS, deltas)
    print(json.dumps({s: {n: {m: d.get(m) for m in metrics.LABEL_METRICS} for n, d in v.items()} for s, v in deltas.items()
                      if s != "probe"}, indent=2))


if __name__ == "__main__":
    stage.run(main)
