"""The contracts between stages, in one place: the paths each stage reads and writes, and the meta.json that prepare
writes beside its rows. dvc.yaml lists the same paths (tests/test_contracts.py checks that the two agree); stage
code names a path only through this module, so a rename is one edit here and one in dvc.yaml."""
from pathlib import Path

from ftlab import tasks
from ftlab.io import DataFileError, read_json

GENERATED = Path("data/generated/rows.jsonl")
QUARANTINE = Path("data/generated/quarantine.jsonl")  # generated rows that failed validation, with the reason
CLAUDE_CACHE = Path("data/claude_cache")  # Claude's answers, one file per request (a persist out)
PREPARED = Path("data/prepared")  # train/val/test.jsonl, real.jsonl, rejected.jsonl and meta.json
PROBE = Path("data/probe")  # the forgetting probe's instructions and general text (in git)
EVAL_BASE = Path("data/eval_base")  # replies of the bases, the few-shot prompt and the baselines
EVAL = Path("data/eval")  # replies of the adapters
JUDGE_CACHE_BASE, JUDGE_CACHE = Path("data/judge_cache_base"), Path("data/judge_cache")
EVAL_METRICS, DELTA_METRICS = Path("metrics/eval.json"), Path("metrics/delta.json")
SCALING = Path("metrics/scaling.json")  # written by `python -m ftlab.eval.scaling`, read by the report
REPORT, LOSS_CURVES, SCALING_FIGURE = Path("notes/report.md"), Path("notes/loss_curves.png"), Path("notes/scaling.png")
TRAIN_STAGES = ("train_lora", "train_qlora")


def metrics_file(stage: str) -> Path:
    """The metrics JSON of a stage (generate_data, prepare, train_lora, train_qlora)."""
    return Path("metrics") / f"{stage}.json"


def adapter_dir(stage: str) -> Path:
    """Where a train stage writes its adapter: models/lora for train_lora, models/qlora for train_qlora."""
    return Path("models") / stage.removeprefix("train_")


def dvclive_dir(stage: str) -> Path:
    """A train stage's dvclive logs (per-step losses), kept in git like the metrics."""
    return Path("dvclive") / stage


def stage_paths() -> dict[str, dict[str, list[Path]]]:
    """Each stage's data inputs and outputs (its metrics files among the outputs), as dvc.yaml lists them. Inputs
    whose path is a param (prepare's source and real files, generate_data's reports) are params.yaml's to name."""
    trained = [p for s in TRAIN_STAGES for p in (dvclive_dir(s), metrics_file(s))]
    return {
        "generate_data": {"deps": [], "outs": [GENERATED, QUARANTINE, CLAUDE_CACHE, metrics_file("generate_data")]},
        "prepare": {"deps": [], "outs": [PREPARED, metrics_file("prepare")]},
        **{s: {"deps": [PREPARED], "outs": [adapter_dir(s), dvclive_dir(s), metrics_file(s)]} for s in TRAIN_STAGES},
        "evaluate_base": {"deps": [PREPARED, PROBE], "outs": [EVAL_BASE, JUDGE_CACHE_BASE]},
        "evaluate": {"deps": [PREPARED, PROBE, EVAL_BASE, *map(adapter_dir, TRAIN_STAGES)],
                     "outs": [EVAL, JUDGE_CACHE, EVAL_METRICS, DELTA_METRICS]},
        "report": {"deps": [PREPARED, EVAL_BASE, EVAL, *trained, EVAL_METRICS, DELTA_METRICS, SCALING],
                   "outs": [REPORT, LOSS_CURVES]},
    }


def prepared_meta(data_dir: Path = PREPARED) -> dict:
    """prepare's meta.json of a data folder: the task, and (triage) the system prompt and answer key order its rows were
    written with. The one reader of that contract: training and evaluation must not guess it, since an adapter
    trained on one prompt and asked with another answers far worse without an error. A folder without it is an
    error, never a default."""
    path = Path(data_dir) / "meta.json"
    if not path.is_file():
        raise DataFileError(f"{path}: not found; the prepare stage writes it beside the rows (dvc repro prepare), "
                            "or write it by hand: {\"task\": \"triage\", \"prompt\": ..., \"answer_order\": ...}")
    meta = read_json(path)
    if not isinstance(meta, dict) or meta.get("task") not in tasks.TASKS:
        raise DataFileError(f"{path}: needs \"task\": one of {', '.join(tasks.TASKS)}; run the prepare stage again")
    tasks.get(meta["task"]).check_meta(meta, path)
    return meta
