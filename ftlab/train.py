"""The one SFT recipe behind `train_lora` and `train_qlora`: TRL SFTTrainer + a PEFT LoRA adapter.

LoRA and QLoRA differ only by the `bnb:` section: when present, the base loads in 4 bits through
BitsAndBytesConfig(**bnb) and gets PEFT's k-bit preparation. `lora:` goes to LoraConfig and `sft:`
to SFTConfig unchanged; the stage adds only what is not a choice (paths, the CPU switch).

Resume: with `checkpoint_root` (the stages pass FTLAB_CACHE/checkpoints/<stage>), the Trainer saves
checkpoints (sft.save_strategy / save_steps) into checkpoint_root/<run key>/, where the run key hashes
everything that determines the run: the params section, the train/val bytes, the recipe's source and
the library versions. A later run with the same key resumes from its last complete checkpoint
(weights, optimizer, scheduler, RNG states, data position); any other key starts afresh. A successful
run deletes its checkpoints and those of every other key of the stage that no run is using.
"""
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from ftlab import models, params, triage
from ftlab.io import DataFileError, normal_tree, read_jsonl, read_prepared_meta, temp_dir, write_json


def prompt_completion(row: dict, values: str = "spec") -> dict:
    """Chat `messages` -> TRL's conversational prompt/completion, so loss is on the answer only; a triage
    answer's label values written as `values` (triage.LABEL_VALUES) writes them."""
    *prompt, answer = row["messages"]
    if values != "spec":
        answer = {**answer, "content": triage.from_spec(answer["content"], values)}
    return {"prompt": prompt, "completion": [answer]}


def _dataset(path: Path, limit, values: str = "spec"):
    from datasets import Dataset

    rows = read_jsonl(path)
    if limit is not None:
        rows = rows[:limit]  # prepare already shuffled the split: the first N are a fair sample
    return Dataset.from_list([prompt_completion(r, values) for r in rows]) if rows else None


def sort_target_modules(config_file: Path) -> None:
    """PEFT writes `target_modules` from a set, whose order follows the process's string hash seed: the same
    training wrote adapter_config.json with other bytes in every process, and DVC saw a changed out. Sorted,
    the file is the same wherever the same run is made (the list is a set to PEFT when it loads)."""
    if config_file.is_file():
        config = json.loads(config_file.read_text())
        if isinstance(config.get("target_modules"), list):
            config["target_modules"] = sorted(config["target_modules"])
            config_file.write_text(json.dumps(config, indent=2, sort_keys=True))  # as PEFT writes it


def portable_base_name(adapter_dir: Path, spec: params.BaseModelSpec) -> None:
    """PEFT records the base as the path it was loaded from, which for a GGUF or the embedded model is the de-quantized
    copy under FTLAB_CACHE: a machine's path in a DVC out, and another out (so DVC re-runs evaluation) for the same
    training with another cache. The base is named as params.yaml names it instead (a hub id as it is); ftlab loads
    the base from ftlab_base.json, never from this name."""
    config_file = adapter_dir / "adapter_config.json"
    config = json.loads(config_file.read_text())
    loaded_from = config.get("base_model_name_or_path")
    name = spec.path if spec.source == "hub" else f"{spec.source}:{spec.path}"
    if not loaded_from or loaded_from == name:
        return
    config["base_model_name_or_path"] = name
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
    card = adapter_dir / "README.md"
    if card.is_file():
        card.write_text(card.read_text(encoding="utf-8").replace(loaded_from, name), encoding="utf-8")


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


def _weighted_trainer_class():
    from trl import SFTTrainer

    class WeightedSFTTrainer(SFTTrainer):
        """TRL's SFTTrainer with LabelWeights on the training loss. The loss stays TRL's own (its fused LM head,
        its token normalisation and metrics): only the per-token log-probabilities it sums are weighted."""

        label_weights: LabelWeights | None = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.label_weights is None or not model.training:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            weights = self.label_weights(inputs["labels"])[:, 1:]  # log_probs are those of labels[:, 1:]
            forward = model.forward

            def weighted(*args, **kwargs):
                out = forward(*args, **kwargs)
                if kwargs.get("fused_lm_head"):
                    out.log_probs = out.log_probs * weights
                return out

            # An instance `forward` may be accelerate's autocast wrapper (mixed precision): put back exactly what was there.
            previous = model.__dict__.get("forward")
            model.forward = weighted
            try:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            finally:
                if previous is None:
                    del model.forward
                else:
                    model.forward = previous

    return WeightedSFTTrainer


@contextlib.contextmanager
def compact_lm_head():
    """TRL's fused LM head (trl/trainer/utils.py add_fused_lm_head) projects only the positions that have a label
    on Triton devices (CUDA, XPU); on every other device it projects every position, prompt and padding included,
    so that compiled backends (Neuron) see one tile shape. A CPU runs eagerly and gains nothing from that: with
    completion-only loss it is 2-3x the LM head's work (a 49,152-token vocabulary: a fifth of the 135M's weights).
    This makes the CPU take the compact path too, for the training and validation passes. The loss is the same;
    `python bench/cpu_lm_head.py` measures the time (notes/decision.md section 9)."""
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:  # TRL renamed it: fail here, not with a silent 2x slowdown
        raise RuntimeError(f"trl {trl_utils.version('trl')} has no trainer.utils._use_triton, which "
                           "ftlab.train.compact_lm_head replaces: update compact_lm_head for this TRL")
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def check_run(p: params.Train, args, tokenizer, splits: dict, data_dir: Path) -> None:
    """What params validation cannot see, because it needs the data or the machine: checked on the built
    SFTConfig (its own defaults) before the model loads, each naming the key to change (a library would fail
    later with a traceback, or train something else)."""
    import importlib.util
    import math

    train_set, val_set = splits["training"], splits["validation"]
    if val_set is None and args.eval_strategy != "no":
        sys.exit(f"error: sft.eval_strategy: {args.eval_strategy.value} needs validation rows, but "
                 f"{data_dir / 'val.jsonl'} has none; set eval_strategy: no, or a prepare.val_fraction above 0")
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * int(os.environ.get("WORLD_SIZE", 1))
    steps = args.max_steps if args.max_steps > 0 else math.ceil(len(train_set) / per_step) * args.num_train_epochs
    if args.warmup_steps >= 1 and args.warmup_steps >= steps:
        sys.exit(f"error: sft.warmup_steps: {args.warmup_steps} steps of warmup in a run of {math.ceil(steps)} steps: "
                 "the learning rate would never reach its peak; write fewer, or a ratio below 1 (0.03 is 3%)")
    if args.fp16 and not torch.cuda.is_available():  # transformers would train in float32 without a word
        sys.exit("error: sft.fp16: true, but this machine has no CUDA GPU, where float16 autocast runs; put it under "
                 "on_cuda.sft (used only on a GPU), or remove it")
    if args.use_liger_kernel and importlib.util.find_spec("liger_kernel") is None:
        sys.exit("error: sft.use_liger_kernel: true, but liger-kernel is not installed: pip install -e '.[gpu]', "
                 "or set it false")
    attention = p.model.attn_implementation or ""
    if attention.startswith("flash_attention") and importlib.util.find_spec("flash_attn") is None:
        sys.exit(f"error: model.attn_implementation: {attention} needs the flash-attn package; install it or use sdpa")
    # No row longer than this run's max_length: TRL keeps the start of a longer row, which cuts off the end of its
    # answer without a word. prepare refuses such rows for train_lora's max_length and tokenizer only; train_qlora,
    # on_cuda and another base model can have a shorter limit or a longer tokenization.
    if args.max_length is not None:
        for name, rows in splits.items():
            lengths = [len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True,
                                                         return_dict=True)["input_ids"]) for r in rows or []]
            if over := [n for n in lengths if n > args.max_length]:
                sys.exit(f"error: sft.max_length: {len(over)} {name} rows are longer than {args.max_length} tokens "
                         f"(the longest {max(over)}); TRL would cut off the end of their answers: raise max_length")


def check_targets(model, lora: dict) -> None:
    """Every name in `lora.target_modules` must match a module of the model: PEFT skips a misspelt name in a list
    silently as long as another one matches, and fails only after the Trainer starts when none does."""
    import re

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
        sys.exit(f"error: lora.target_modules: {', '.join(map(repr, missing))} match no module of the base model; "
                 f"its linear layers are {', '.join(linear)} (or write all-linear)")


def sft_config(p: params.Train, output_dir: str):
    from trl import SFTConfig

    cuda = torch.cuda.is_available()
    sft = dict(p.sft)
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


def chunk_mlps(model, tokens: int) -> int:
    """Run each decoder layer's MLP over a row `tokens` positions at a time, every piece recomputed in
    the backward pass (non-reentrant checkpoints, which nest inside the Trainer's per-layer ones).
    Why: on a long row the MLP's intermediates (gate, up, their product, LoRA dropout copies, all
    FFN-wide: ~200 KB a token on the 7B) are most of what one layer keeps for its backward, and with
    per-layer checkpointing that one layer is the peak. Exact, since the MLP works position by
    position; rows of up to `tokens` run the MLP as before. Returns how many MLPs it wrapped."""
    from torch.utils.checkpoint import checkpoint

    def chunked(mlp):
        forward = mlp.forward

        def run(x):
            if x.shape[-2] <= tokens:
                return forward(x)
            grad = torch.is_grad_enabled()
            outs = [checkpoint(forward, piece, use_reentrant=False) if grad else forward(piece)
                    for piece in x.split(tokens, dim=-2)]
            if not isinstance(outs[0], torch.Tensor):  # e.g. a mixture-of-experts block: (hidden, router logits)
                raise TypeError(f"mlp_chunk_tokens: {type(mlp).__name__} returns {type(outs[0]).__name__}, not one "
                                "tensor, so it cannot run in pieces; set mlp_chunk_tokens: null for this model")
            return torch.cat(outs, dim=-2)
        return run

    layers = [m for m in model.modules() if isinstance(getattr(m, "mlp", None), torch.nn.Module)]
    for layer in layers:
        layer.mlp.forward = chunked(layer.mlp)
    return len(layers)


# Written (atomically) into a checkpoint once the Trainer has finished saving it: only such a
# checkpoint is resumed, so a run killed in the middle of a save never resumes from half a checkpoint.
COMPLETE = "ftlab_complete.json"
LOCK = ".lock"


def run_key(p: params.Train, data_dir: Path) -> str:
    """Hash of what determines a training run: a checkpoint is resumed only by a run with the same key."""
    import peft
    import transformers
    import trl

    h = hashlib.sha256()
    what = {
        "params": p.model_dump(mode="json"),  # base model, row limits, lora, sft (seed included), bnb
        "recipe": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "versions": [torch.__version__, transformers.__version__, trl.__version__, peft.__version__],
        "cuda": torch.cuda.is_available(),
    }
    if p.base_model.source == "local" and (Path(p.base_model.path) / "config.json").is_file():
        base = Path(p.base_model.path)  # a local base can change in place: its config and file sizes
        what["local_base"] = [(f.name, f.stat().st_size) for f in sorted(base.iterdir()) if f.is_file()]
        what["local_config"] = (base / "config.json").read_text()
    h.update(json.dumps(what, sort_keys=True).encode())
    for name in ("train.jsonl", "val.jsonl"):
        f = data_dir / name
        h.update(f"\0{name}\0".encode())
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()[:20]


def _step(checkpoint: Path) -> int:
    tail = checkpoint.name.removeprefix("checkpoint-")
    return int(tail) if tail.isdigit() else -1


def last_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step in run_dir, if any."""
    done = [c for c in run_dir.glob("checkpoint-*") if _step(c) >= 0 and (c / COMPLETE).is_file()]
    return max(done, key=_step, default=None)


def _lock(run_dir: Path, wait: bool = True):
    """An exclusive lock on run_dir (released when the process dies, kill -9 included). Another process training
    with the same params and data holds it: wait for it (a parallel `dvc queue` worker given the same training
    params; issue 19: the second exited and its experiment was lost), or with wait=False exit."""
    said = False
    while True:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            if not wait:
                sys.exit(f"error: another process is training with the same params and data ({run_dir} is locked)")
            if not said:
                print(f"waiting: another process is training with the same params and data ({run_dir} is locked)",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(1)
            continue
        try:  # the first run's cleanup may have deleted the file we waited on: then lock the new one
            if os.fstat(handle.fileno()).st_ino == os.stat(run_dir / LOCK).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def _remove_unused_runs(checkpoint_root: Path) -> None:
    """Delete every run directory under checkpoint_root that no live process holds the lock of."""
    for run_dir in checkpoint_root.iterdir() if checkpoint_root.is_dir() else ():
        if not run_dir.is_dir():
            continue
        try:
            with open(run_dir / LOCK, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(run_dir, ignore_errors=True)
        except BlockingIOError:
            continue  # a concurrent run (e.g. a parallel `dvc queue` worker) is training with it


def _checkpoint_callback(live_dir: Path | None):
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        """After the Trainer saved checkpoint-N: copy the dvclive logs so far into it (a resumed run
        restores them, so the curves have every step once), then mark it complete."""

        def on_save(self, args, state, control, **kwargs):
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.barrier()  # every process has written its part (RNG state, FSDP shards)
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if not state.is_world_process_zero or not checkpoint.is_dir():
                return
            if live_dir is not None and live_dir.is_dir():
                shutil.copytree(live_dir, checkpoint / "dvclive", dirs_exist_ok=True)
            tmp = checkpoint / f".{COMPLETE}.tmp"
            tmp.write_text(json.dumps({"global_step": state.global_step}))
            os.replace(tmp, checkpoint / COMPLETE)

    return MarkComplete()


def train(data_dir: Path, out_dir: Path, metrics_path: Path, p: params.Train, live_dir: Path | None = None,
          checkpoint_root: Path | None = None):
    """Train an adapter on data_dir/{train,val}.jsonl, save it to out_dir, write metrics_path, and
    log every logging step (loss, learning rate, grad norm, eval loss) through dvclive into live_dir.
    With checkpoint_root, checkpoints go to checkpoint_root/<run_key> and a run with the same key
    resumes from the last complete one (module docstring). Under `accelerate launch` every process
    runs this; process 0 alone locks, logs, writes the adapter and the metrics. Returns the trainer
    and the metrics."""
    from peft import LoraConfig, prepare_model_for_kbit_training
    from peft.helpers import disable_input_dtype_casting
    from transformers import BitsAndBytesConfig, set_seed
    key_params = p  # the run key hashes the params as written (on_cuda included) plus the device
    p = p.for_device(torch.cuda.is_available())
    main_process = int(os.environ.get("RANK", 0)) == 0
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and checkpoint_root is None:
        raise ValueError("a multi-process run needs checkpoint_root: every process must share one output directory")
    # prepare's meta.json: the task, and the prompt and key order its rows were written with.
    meta = read_prepared_meta(data_dir)  # a missing one is an error: the adapter records the prompt it names
    values = p.label_values if meta["task"] == "triage" else "spec"  # label values are triage's
    train_set = _dataset(data_dir / "train.jsonl", p.max_train_rows, values)
    val_set = _dataset(data_dir / "val.jsonl", p.max_val_rows, values)
    if train_set is None:
        sys.exit(f"error: {data_dir / 'train.jsonl'} has no rows; run the prepare stage with more data")

    # Trainer scratch and the staged adapter live next to the target and go away whatever happens
    # (after a kill -9, at the next run: a killed run's scratch directory is empty).
    work = lock = resume = None
    if main_process:
        for leftover in out_dir.parent.glob(f".{out_dir.name}-work-*"):
            try:
                leftover.rmdir()
            except OSError:
                pass
        work = temp_dir(out_dir.parent, f".{out_dir.name}-work-")
    try:
        run_dir = work
        if checkpoint_root is not None:
            run_dir = Path(checkpoint_root) / run_key(key_params, data_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            if main_process:
                # One process waits for a run with the same key to finish; the processes of a multi-process run
                # choose their resume point together, so they stop instead of waiting apart.
                lock = _lock(run_dir, wait=int(os.environ.get("WORLD_SIZE", 1)) == 1)
            resume = last_checkpoint(run_dir)  # after the lock: what a run that just finished left
            if main_process:
                for stale in run_dir.glob("checkpoint-*"):  # half-saved ones, and any after the one resumed
                    if stale != resume:
                        shutil.rmtree(stale, ignore_errors=True)
            if main_process and resume is not None:
                print(f"resuming from {resume} (step {_step(resume)})", file=sys.stderr)
                if live_dir is not None:  # the curves up to the checkpoint (DVC deletes the out before a run)
                    shutil.rmtree(live_dir, ignore_errors=True)
                    if (resume / "dvclive").is_dir():
                        shutil.copytree(resume / "dvclive", live_dir)
        args = sft_config(p, str(run_dir))
        set_seed(args.seed)  # LoRA's A matrices are drawn when the adapter is created, before the Trainer seeds
        tokenizer = models.load_tokenizer(p.base_model)
        check_run(p, args, tokenizer, {"training": train_set, "validation": val_set}, data_dir)
        quantization = BitsAndBytesConfig(**p.bnb) if p.bnb else None
        model = models.load_model(p.base_model, quantization_config=quantization, **p.model.model_dump())
        check_targets(model, p.lora)
        if quantization is not None:
            if p.kbit_upcast:
                model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.activation_checkpointing)
            else:  # what prepare_model_for_kbit_training does besides the upcast
                for param in model.parameters():
                    param.requires_grad = False
                model.enable_input_require_grads()

        trainer = _weighted_trainer_class()(
            model=model,
            args=args,
            train_dataset=train_set,
            eval_dataset=val_set,
            processing_class=tokenizer,
            peft_config=LoraConfig(**p.lora),
        )
        if p.label_weight != 1:
            trainer.label_weights = LabelWeights(tokenizer, p.label_weight)
        if p.mlp_chunk_tokens:  # after the Trainer, which may swap in Liger's MLP forward (sft.use_liger_kernel)
            chunk_mlps(trainer.model, p.mlp_chunk_tokens)
        trainable, total = trainer.model.get_nb_trainable_parameters()  # before FSDP wraps (and shards) it
        if live_dir is not None and main_process:
            from dvclive import Live
            from transformers.integrations import DVCLiveCallback

            # Our own Live: report_to: dvclive would make a default one that edits dvc.yaml and saves
            # a DVC experiment of its own; this one only writes the step-wise .tsv plots dvc.yaml declares.
            live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=resume is not None)

            class StepAligned(DVCLiveCallback):
                """dvclive counts its own steps, one per log call, so train and eval rows would drift
                apart; log each row at the Trainer's optimizer step instead (one x axis for both)."""

                def on_log(self, args, state, control, **kwargs):
                    live.step = state.global_step
                    super().on_log(args, state, control, **kwargs)

            trainer.add_callback(StepAligned(live=live))
        trainer.add_callback(_checkpoint_callback(live_dir))
        if resume is not None:
            # TRL counts the tokens trained on (the num_tokens curve) from zero in every process and does not save
            # the count in a checkpoint: a resumed run's curve restarted at zero. Go on from the checkpoint's.
            logged = json.loads((resume / "trainer_state.json").read_text()).get("log_history", [])
            trainer._total_train_tokens = max((log.get("num_tokens", 0) for log in logged), default=0)
        # Under bf16/fp16 autocast, PEFT's cast of every LoRA input to the adapter's float32 (which autocast
        # casts back for the matmul) is copies that change no value (but for a CPU's bf16 dropout, which
        # rounds its 1/(1-p) scale to bf16): +4% on the 0.5B at 16 rows, +13% with Liger at 256 (bench/RESULTS.md).
        with disable_input_dtype_casting(trainer.model, active=args.bf16 or args.fp16), compact_lm_head():
            started = time.perf_counter()
            result = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
            seconds = time.perf_counter() - started
            eval_loss = None
            if val_set is not None:
                # The Trainer has evaluated the last step already when eval_steps divides it; reuse that.
                last = [h for h in trainer.state.log_history if "eval_loss" in h]
                done = last and last[-1].get("step") == trainer.state.global_step
                eval_loss = last[-1]["eval_loss"] if done else trainer.evaluate()["eval_loss"]

        # Save next to the target and rename, so a killed run never leaves a complete-looking adapter.
        # save_model is collective (FSDP gathers the adapter's shards) and writes on process 0 only.
        staging = (work or run_dir) / "adapter"
        if trainer.is_fsdp_enabled:  # gather the adapter into one file, not one shard per process
            trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
        trainer.save_model(str(staging))
        if main_process:
            # What the adapter was trained on top of, so models.load_for_inference needs only this directory.
            # The prompt it was trained with (prepare's meta.json) and the label values it writes, so evaluate and
            # `ftlab predict` ask it the same way and put its replies back to the spec's values.
            write_json(staging / models.BASE_FILE, {"base_model": p.base_model.model_dump(), "bnb": p.bnb,
                                                    "prompt": meta.get("prompt", "rubric"),  # generic: unused
                                                    "answer_order": meta.get("answer_order", "spec"),
                                                    "label_values": values})
            (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle of the args; params.yaml says it all
            sort_target_modules(staging / "adapter_config.json")
            portable_base_name(staging, p.base_model)
            normal_tree(staging)
            if out_dir.exists():
                shutil.rmtree(out_dir)
            staging.rename(out_dir)
            if checkpoint_root is not None:  # the adapter is in place: this run's checkpoints and unused others go
                lock.close()
                _remove_unused_runs(Path(checkpoint_root))
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if lock is not None:
            lock.close()

    # Tokens and seconds of this run only (a resumed run's log history starts with the earlier run's).
    resumed_step = _step(resume) if resume is not None else 0
    tokens = max((log.get("num_tokens", 0) for log in trainer.state.log_history), default=0) - max(
        (log.get("num_tokens", 0) for log in trainer.state.log_history if log.get("step", 0) <= resumed_step), default=0)
    # The Trainer's training_loss averages this run's steps only; add the logged losses before the resume.
    train_loss, last = result.training_loss * (trainer.state.global_step - resumed_step), 0
    for log in trainer.state.log_history:
        if "loss" in log and log.get("step", 0) <= resumed_step:
            train_loss, last = train_loss + log["loss"] * (log["step"] - last), log["step"]
    train_loss /= max(trainer.state.global_step, 1)
    metrics = {
        "device": models.device_name(),
        "on_cuda": torch.cuda.is_available() and key_params.on_cuda is not None,  # on_cuda's settings merged in
        "train_loss": round(train_loss, 4),
        "eval_loss": round(eval_loss, 4) if eval_loss is not None else None,
        "train_rows": len(train_set),
        "steps": trainer.state.global_step,
        "resumed_from_step": resumed_step,
        "processes": int(os.environ.get("WORLD_SIZE", 1)),
        "train_seconds": round(seconds, 1),
        "train_tokens_per_s": round(tokens / seconds, 1) if tokens else None,  # all processes' tokens
        "trainable_params": trainable,
        "trainable_percent": round(100 * trainable / total, 3),
        "loaded_in_4bit": bool(getattr(model, "is_loaded_in_4bit", False)),
    }
    if main_process:
        write_json(metrics_path, metrics)
        print(json.dumps(metrics, indent=2))
    return trainer, metrics


def gpus_needed(stage: str) -> int | None:
    """How many GPUs the stage's run uses (`launch.num_processes`), read from the raw params.yaml before
    params.load imports the libraries, which may start CUDA; 1 when absent or not valid (params.load then says
    what is wrong); None when `launch.gpu_ids` pins the GPUs."""
    try:
        section = params.read_yaml().get(stage)
    except params.ParamsError:
        return 1
    launch = section.get("launch") if isinstance(section, dict) else None
    n = launch.get("num_processes") if isinstance(launch, dict) else None
    if isinstance(launch, dict) and launch.get("gpu_ids") is not None:
        return None
    return n if isinstance(n, int) and n > 1 else 1


def main(stage: str) -> None:
    if (gpus := gpus_needed(stage)) is not None:
        models.claim_gpus(gpus)  # first, before anything starts CUDA
    p = params.load(stage)
    if p.num_processes > 1 and "LOCAL_RANK" not in os.environ:
        # The same stage, re-run under `accelerate launch` (DDP or FSDP, as `launch:` says) on the GPUs claimed
        # above. exec, so that DVC's process is the launcher, which stops every worker when it is stopped.
        if os.environ.get("FTLAB_LAUNCHED"):  # accelerate ran one plain process: it would launch itself again
            sys.exit(f"error: {stage}.launch.num_processes: {p.num_processes}, but `accelerate launch` started a single "
                     "process (no LOCAL_RANK); set multi_gpu: true or use_fsdp: true, on a machine with that many GPUs")
        argv = [sys.executable, "-m", "accelerate.commands.launch", *params.launch_argv(f"{stage}.launch", p.launch),
                sys.argv[0], *sys.argv[1:]]
        print("launching:", " ".join(argv[1:]), file=sys.stderr, flush=True)
        os.environ["FTLAB_LAUNCHED"] = "1"
        os.execv(sys.executable, argv)
    out_dir = Path("models") / stage.removeprefix("train_")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        cache = models.cache_dir()
    except models.ModelSourceError as e:
        sys.exit(f"error: {e}")
    try:
        # Checkpoints live outside every DVC out (FTLAB_CACHE is git-ignored), so `dvc repro` neither
        # deletes them before the stage nor caches them after it; README "Resume after a crash".
        train(Path("data/prepared"), out_dir, Path("metrics") / f"{stage}.json", p, Path("dvclive") / stage,
              checkpoint_root=cache / "checkpoints" / stage)
    except models.ModelSourceError as e:
        sys.exit(f"error: {stage}.{e}")
    except DataFileError as e:
        sys.exit(f"error: {e}")
