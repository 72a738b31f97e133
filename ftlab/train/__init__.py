"""Training: the one SFT recipe behind `train_lora` and `train_qlora` (TRL's SFTTrainer with a PEFT LoRA adapter).

`train()` is the run as named steps over the package's parts:
- `data`: prepare's rows as prompt/completion pairs (loss on the answer only);
- `checks`: what params validation cannot see (the data, the model, the machine), before training starts;
- `recipe`: the SFTConfig, the base model (4-bit when `bnb:` is set: QLoRA is a config), the trainer, the fit;
- `patches`: every reach into TRL's, PEFT's or a model's internals;
- `checkpoints`: the run key, the lock, resume from the last complete checkpoint, the run's folders;
- `adapter`: the saved adapter with ftlab's metadata, renamed onto the out;
- `run_metrics`: the run's figures (pure);
- `launch`: the stages' entry point (GPU claim, `accelerate launch` for several processes).
"""
import json
import os
from pathlib import Path

import torch

from ftlab import contracts, device, models, params, tasks
from ftlab.io import write_json
from ftlab.train import adapter, checkpoints, checks, data, patches, recipe
from ftlab.train.run_metrics import run_metrics


def train(data_dir: Path, out_dir: Path, metrics_path: Path, p: params.Train, live_dir: Path | None = None,
          checkpoint_root: Path | None = None):
    """Train an adapter on data_dir/{train,val}.jsonl, save it to out_dir, write metrics_path, and log every logging
    step (loss, learning rate, grad norm, eval loss) through dvclive into live_dir. With checkpoint_root, checkpoints
    go to checkpoint_root/<run key> and a run with the same key resumes from the last complete one (checkpoints).
    Under `accelerate launch` every process runs this; process 0 alone locks, logs, writes the adapter and the
    metrics. Returns the trainer and the metrics."""
    from transformers import set_seed

    run_p = p.for_device(torch.cuda.is_available())  # on_cuda merged in; the run key hashes p as written
    meta = contracts.prepared_meta(data_dir)  # a missing one is an error: the adapter records the prompt it names
    values = tasks.get(meta["task"]).label_values(run_p.label_values)
    splits = data.splits(data_dir, run_p.max_train_rows, run_p.max_val_rows, values)
    with checkpoints.Run(out_dir, checkpoint_root, lambda: checkpoints.run_key(p, data_dir), live_dir) as run:
        args = recipe.sft_config(run_p.sft, str(run.dir))
        set_seed(args.seed)  # LoRA's A matrices are drawn when the adapter is created, before the Trainer seeds
        tokenizer = models.load_tokenizer(run_p.base_model)
        checks.check_run(run_p, args, tokenizer, splits, data_dir)
        model = recipe.load_model(run_p, args)
        trainer = recipe.build_trainer(args, model, tokenizer, splits["training"], splits["validation"], run_p.lora,
                                       run_p.label_weight, run_p.mlp_chunk_tokens)
        trainable, total = trainer.model.get_nb_trainable_parameters()  # before FSDP wraps (and shards) it
        if live_dir is not None and run.main:
            trainer.add_callback(recipe.dvclive_callback(live_dir, run.resume is not None, run.portable_dir))
        trainer.add_callback(checkpoints.checkpoint_callback(live_dir))
        if run.resume is not None:
            patches.restore_token_count(trainer, run.resume)
        result, seconds, eval_loss = recipe.fit(trainer, run.resume)
        adapter.save(trainer, run.staging, out_dir, run_p, meta, values)
        run.finish()

    metrics = {
        "device": device.device_name(),
        "on_cuda": torch.cuda.is_available() and p.on_cuda is not None,  # on_cuda's settings merged in
        **run_metrics(trainer.state.log_history, trainer.state.global_step, result.training_loss, run.resumed_step,
                      seconds, eval_loss),
        "train_rows": len(splits["training"]),
        "processes": int(os.environ.get("WORLD_SIZE", 1)),
        "trainable_params": trainable,
        "trainable_percent": round(100 * trainable / total, 3),
        "loaded_in_4bit": bool(getattr(model, "is_loaded_in_4bit", False)),
    }
    if run.main:
        write_json(metrics_path, metrics)
        print(json.dumps(metrics, indent=2))
    return trainer, metrics
