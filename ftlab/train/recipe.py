"""The one SFT recipe behind train_lora and train_qlora, as named steps: the SFTConfig for this machine, the base
model (in 4 bits when `bnb:` is set: QLoRA is a config, not a second recipe), and the trainer: TRL's SFTTrainer
with a PEFT LoRA adapter, label-weighted loss and MLP chunking. `lora:` goes to LoraConfig and `sft:` to SFTConfig
unchanged; the recipe adds only what is not a choice (paths, the CPU switch). The bench builds its trainers here
too (bench/train_throughput.py)."""
import os
import sys

import torch

from ftlab import models, params, triage
from ftlab.train import checks, patches


class LabelWeights:
    """Per-token loss weights for triage answers: the value tokens of the label fields (triage.ENUMS:
    severity, category) count `weight` times, every other answer token once. Why: a label is 1-3 of an
    answer's ~70 tokens, so plain SFT learns the JSON, the services and the summary and leaves the decision
    at its prior (notes/decision.md: severity's token loss stayed at ln 4 after four epochs). The value tokens
    are found in the label ids: the tokens after a field's key (`"severity": "`), up to the closing quote."""

    def __init__(self, tokenizer, weight: float):
        self.weight = weight
        strings = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        decoded = [tokenizer.convert_tokens_to_string([t]) if t is not None else "" for t in strings]
        self.quote = torch.tensor(['"' in s for s in decoded])  # a token that holds a quote ends the value
        self.keys = []
        for field in triage.ENUMS:  # the key's last tokens as the serialiser writes them, in any key order
            text = triage.dumps({k: "x" if k != "affected_services" else ["x"] for k in triage.KEYS})
            ids = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            start = text.index(f'"{field}": "') + len(f'"{field}": "')
            end = next(i for i, (a, b) in enumerate(ids["offset_mapping"]) if a >= start)
            self.keys.append(ids["input_ids"][max(0, end - 3):end])

    def __call__(self, labels: torch.Tensor) -> torch.Tensor:
        weights = torch.ones(labels.shape, dtype=torch.float32, device=labels.device)
        quote = self.quote.to(labels.device)
        for row in range(labels.shape[0]):
            ids = labels[row].tolist()
            for key in self.keys:
                n = len(key)
                for i in range(len(ids) - n):
                    if ids[i:i + n] == key:
                        j = i + n
                        while j < len(ids) and ids[j] >= 0 and not quote[ids[j]]:
                            weights[row, j] = self.weight
                            j += 1
        return weights


def sft_config(sft: dict, output_dir: str, cuda: bool | None = None):
    """trl.SFTConfig(**sft) for this machine (cuda: None asks torch): the CPU switch, bf16 where the GPU has it, no
    paged optimizer without CUDA."""
    from trl import SFTConfig

    cuda = torch.cuda.is_available() if cuda is None else cuda
    sft = dict(sft)
    if not cuda and str(sft.get("optim", "")).startswith("paged_"):
        # Paged optimizers page optimizer state through CUDA unified memory; there is none on a CPU.
        print(f"note: no CUDA, so sft.optim {sft['optim']} -> adamw_torch", file=sys.stderr)
        sft["optim"] = "adamw_torch"
    # bf16 autocast on a GPU that has it, unless fp16 is asked for (both at once is an error in transformers)
    sft.setdefault("bf16", cuda and not sft.get("fp16") and torch.cuda.is_bf16_supported())
    report_to = sft.get("report_to")
    targets = [report_to] if isinstance(report_to, str) else report_to or []
    if "wandb" in targets and not os.environ.get("WANDB_API_KEY"):
        # No key: log to ./wandb/offline-run-* (git-ignored) instead of asking for a login; `wandb sync` uploads it later
        os.environ.setdefault("WANDB_MODE", "offline")
    return SFTConfig(output_dir=output_dir, use_cpu=not cuda, **sft)


def load_model(p: params.Train, args):
    """The base model as the run trains it: in 4 bits through BitsAndBytesConfig(**p.bnb) with PEFT's k-bit
    preparation when `bnb:` is set; every lora.target_modules name checked against it."""
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(**p.bnb) if p.bnb else None
    model = models.load_model(p.base_model, quantization_config=quantization, **p.model.model_dump())
    checks.check_targets(model, p.lora)
    if quantization is not None:
        model = prepare_kbit(model, p.kbit_upcast, args.activation_checkpointing)
    return model


def prepare_kbit(model, upcast: bool, checkpointing: bool):
    """PEFT's k-bit preparation, or (upcast false) what it does besides upcasting every non-4-bit weight to float32."""
    from peft import prepare_model_for_kbit_training

    if upcast:
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    for param in model.parameters():
        param.requires_grad = False
    model.enable_input_require_grads()
    return model


def build_trainer(args, model, tokenizer, train_set, val_set, lora: dict, label_weight: float = 1.0,
                  mlp_chunk_tokens: int | None = None, **trainer_kwargs):
    """TRL's SFTTrainer with a LoraConfig(**lora) adapter, the label values' loss weighted `label_weight` times
    (LabelWeights) and each MLP run `mlp_chunk_tokens` positions at a time (patches.chunk_mlps)."""
    from peft import LoraConfig

    trainer = patches.weighted_trainer_class()(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        processing_class=tokenizer,
        peft_config=LoraConfig(**lora),
        **trainer_kwargs,
    )
    if label_weight != 1:
        trainer.label_weights = LabelWeights(tokenizer, label_weight)
    if mlp_chunk_tokens:  # after the Trainer, which may swap in Liger's MLP forward (sft.use_liger_kernel)
        patches.chunk_mlps(trainer.model, mlp_chunk_tokens)
    return trainer


def dvclive_callback(live_dir, resume: bool, output_dir: str):
    """A dvclive logger into live_dir, one row per logging step at the Trainer's optimizer step. Our own Live:
    report_to: dvclive would make a default one that edits dvc.yaml and saves a DVC experiment of its own; this
    one only writes the step-wise .tsv plots dvc.yaml declares. The Trainer's arguments go to live_dir/params.yaml
    (a file in git) with `output_dir` as given: the real one is a path of this machine."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=resume)

    class StepAligned(DVCLiveCallback):
        """dvclive counts its own steps, one per log call, so train and eval rows would drift
        apart; log each row at the Trainer's optimizer step instead (one x axis for both)."""

        def setup(self, args, state, model):
            super().setup(args, state, model)
            if state.is_world_process_zero:
                live.log_params({"output_dir": output_dir})

        def on_log(self, args, state, control, **kwargs):
            live.step = state.global_step
            super().on_log(args, state, control, **kwargs)

    return StepAligned(live=live)


def fit(trainer, resume=None, input_cast: bool = False):
    """Train (from the checkpoint `resume`, if any); returns (TrainOutput, seconds, validation loss or None)."""
    import time

    from peft.helpers import disable_input_dtype_casting

    args = trainer.args
    # Under bf16/fp16 autocast, PEFT's cast of every LoRA input to the adapter's float32 (which autocast casts back
    # for the matmul) is copies that change no value (but for a CPU's bf16 dropout, which rounds its 1/(1-p) scale
    # to bf16): +4% on the 0.5B at 16 rows, +13% with Liger at 256 (bench/RESULTS.md). input_cast keeps them.
    skip_cast = (args.bf16 or args.fp16) and not input_cast
    with disable_input_dtype_casting(trainer.model, active=skip_cast), patches.compact_lm_head():
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
        seconds = time.perf_counter() - started
        eval_loss = None
        if trainer.eval_dataset is not None:
            # The Trainer has evaluated the last step already when eval_steps divides it; reuse that.
            last = [h for h in trainer.state.log_history if "eval_loss" in h]
            done = last and last[-1].get("step") == trainer.state.global_step
            eval_loss = last[-1]["eval_loss"] if done else trainer.evaluate()["eval_loss"]
    return result, seconds, eval_loss
