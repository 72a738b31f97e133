"""The one SFT recipe behind `train_lora` and `train_qlora`: TRL SFTTrainer + a PEFT LoRA adapter.

LoRA and QLoRA differ only by the `bnb:` section: when present, the base loads in 4 bits through
BitsAndBytesConfig(**bnb) and gets PEFT's k-bit preparation. `lora:` goes to LoraConfig and `sft:`
to SFTConfig unchanged; the stage adds only what is not a choice (paths, the CPU switch).
"""
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from ftlab import models, params
from ftlab.io import DataFileError, read_jsonl, write_json


def prompt_completion(row: dict) -> dict:
    """Chat `messages` -> TRL's conversational prompt/completion, so loss is on the answer only."""
    messages = row["messages"]
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def _dataset(path: Path, limit):
    from datasets import Dataset

    rows = read_jsonl(path)
    if limit is not None:
        rows = rows[:limit]  # prepare already shuffled the split: the first N are a fair sample
    return Dataset.from_list([prompt_completion(r) for r in rows]) if rows else None


def sft_config(p: params.Train, output_dir: str):
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    sft = dict(p.sft)
    if not cuda and str(sft.get("optim", "")).startswith("paged_"):
        # Paged optimizers page optimizer state through CUDA unified memory; there is none on a CPU.
        print(f"note: no CUDA, so sft.optim {sft['optim']} -> adamw_torch", file=sys.stderr)
        sft["optim"] = "adamw_torch"
    sft.setdefault("bf16", cuda)
    return SFTConfig(output_dir=output_dir, use_cpu=not cuda, **sft)


def train(data_dir: Path, out_dir: Path, metrics_path: Path, p: params.Train):
    """Train an adapter on data_dir/{train,val}.jsonl, save it to out_dir, write metrics_path.
    Returns the trainer (its .model is the PEFT model) and the metrics."""
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig, set_seed
    from trl import SFTTrainer

    train_set = _dataset(data_dir / "train.jsonl", p.max_train_rows)
    val_set = _dataset(data_dir / "val.jsonl", p.max_val_rows)
    if train_set is None:
        sys.exit(f"error: {data_dir / 'train.jsonl'} has no rows; run the prepare stage with more data")

    # Trainer scratch and the staged adapter live next to the target and go away whatever happens.
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-work-"))
    try:
        args = sft_config(p, str(work))
        set_seed(args.seed)  # LoRA's A matrices are drawn when the adapter is created, before the Trainer seeds
        tokenizer = models.load_tokenizer(p.base_model)
        quantization = BitsAndBytesConfig(**p.bnb) if p.bnb else None
        model = models.load_model(p.base_model, quantization_config=quantization)
        if quantization is not None:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.activation_checkpointing)

        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_set,
            eval_dataset=val_set,
            processing_class=tokenizer,
            peft_config=LoraConfig(**p.lora),
        )
        started = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - started
        eval_loss = trainer.evaluate()["eval_loss"] if val_set is not None else None

        # Save next to the target and rename, so a killed run never leaves a complete-looking adapter.
        staging = work / "adapter"
        trainer.model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    trainable, total = trainer.model.get_nb_trainable_parameters()
    tokens = max((log.get("num_tokens", 0) for log in trainer.state.log_history), default=0)
    metrics = {
        "train_loss": round(result.training_loss, 4),
        "eval_loss": round(eval_loss, 4) if eval_loss is not None else None,
        "train_rows": len(train_set),
        "steps": trainer.state.global_step,
        "train_seconds": round(seconds, 1),
        "train_tokens_per_s": round(tokens / seconds, 1) if tokens else None,
        "trainable_params": trainable,
        "trainable_percent": round(100 * trainable / total, 3),
        "loaded_in_4bit": bool(getattr(model, "is_loaded_in_4bit", False)),
    }
    write_json(metrics_path, metrics)
    print(json.dumps(metrics, indent=2))
    return trainer, metrics


def main(stage: str) -> None:
    p = params.load(stage)
    out_dir = Path("models") / stage.removeprefix("train_")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        train(Path("data/prepared"), out_dir, Path("metrics") / f"{stage}.json", p)
    except models.ModelSourceError as e:
        sys.exit(f"error: {stage}.{e}")
    except DataFileError as e:
        sys.exit(f"error: {e}")
