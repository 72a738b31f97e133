"""What params validation cannot see, because it needs the data, the model or the machine: checked before training
starts, each failure a TrainError naming the key to change (a library would fail later with a traceback, or train
something else)."""
import importlib.util
import math
import os
import re
from pathlib import Path

import torch

from ftlab import params
from ftlab.errors import TrainError


def check_run(p: params.Train, args, tokenizer, splits: dict, data_dir: Path) -> None:
    """Checked on the built SFTConfig (its own defaults) before the model loads."""
    train_set, val_set = splits["training"], splits["validation"]
    if val_set is None and args.eval_strategy != "no":
        raise TrainError(f"sft.eval_strategy: {args.eval_strategy.value} needs validation rows, but "
                         f"{data_dir / 'val.jsonl'} has none; set eval_strategy: no, or a prepare.val_fraction above 0")
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * int(os.environ.get("WORLD_SIZE", 1))
    steps = args.max_steps if args.max_steps > 0 else math.ceil(len(train_set) / per_step) * args.num_train_epochs
    if args.warmup_steps >= 1 and args.warmup_steps >= steps:
        raise TrainError(f"sft.warmup_steps: {args.warmup_steps} steps of warmup in a run of {math.ceil(steps)} steps: "
                         "the learning rate would never reach its peak; write fewer, or a ratio below 1 (0.03 is 3%)")
    if args.fp16 and not torch.cuda.is_available():  # transformers would train in float32 without a word
        raise TrainError("sft.fp16: true, but this machine has no CUDA GPU, where float16 autocast runs; put it under "
                         "on_cuda.sft (used only on a GPU), or remove it")
    if args.use_liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        raise TrainError("sft.use_liger_kernel: true, but liger-kernel is not installed: pip install -e '.[gpu]', "
                         "or set it false")
    attention = p.model.attn_implementation or ""
    if attention.startswith("flash_attention") and importlib.util.find_spec("flash_attn") is None:
        raise TrainError(f"model.attn_implementation: {attention} needs the flash-attn package; install it or use sdpa")
    # No row longer than this run's max_length: TRL keeps the start of a longer row, which cuts off the end of its
    # answer without a word. prepare refuses such rows for train_lora's max_length and tokenizer only; train_qlora,
    # on_cuda and another base model can have a shorter limit or a longer tokenization.
    if args.max_length is not None:
        for name, rows in splits.items():
            lengths = [len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True,
                                                         return_dict=True)["input_ids"]) for r in rows or []]
            if over := [n for n in lengths if n > args.max_length]:
                raise TrainError(f"sft.max_length: {len(over)} {name} rows are longer than {args.max_length} tokens "
                                 f"(the longest {max(over)}); TRL would cut off the end of their answers: raise max_length")


def check_targets(model, lora: dict) -> None:
    """Every name in `lora.target_modules` must match a module of the model: PEFT skips a misspelt name in a list
    silently as long as another one matches, and fails only after the Trainer starts when none does."""
    targets = lora.get("target_modules")
    names = [n for n, _ in model.named_modules()]
    if targets is None or targets == "all-linear":
        return
    if isinstance(targets, str):  # PEFT: a regular expression over the full module names
        missing = [] if any(re.fullmatch(targets, n) for n in names) else [targets]
    else:
        missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise TrainError(f"lora.target_modules: {', '.join(map(repr, missing))} match no module of the base model; "
                         f"its linear layers are {', '.join(linear)} (or write all-linear)")
