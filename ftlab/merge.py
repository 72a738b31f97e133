"""Merge a trained adapter into its base and save a standalone model; check it against base + adapter.

    ftlab merge --adapter models/lora -o models/merged-lora --check 16

LoRA: W + (lora_alpha / r) * B @ A is written into the float base the adapter was trained on (from the
adapter's ftlab_base.json), so the merged model computes what base + adapter computes, up to float
rounding. QLoRA: the adapter was trained on the base's 4-bit NF4 weights; a standalone float model
cannot be exactly that. `qlora_base="dequantized"` (default) merges into the NF4 weights de-quantized
to float (the weights the adapter saw; the 4-bit rounding error is baked in), `"original"` into the
float base before quantization (the adapter then sits on weights it was not trained with). Neither is
exact: `check` measures how far the merged model is from base + adapter (docs/operations.md "Merge and export").
"""
import gc
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from ftlab import models
from ftlab.eval import generation
from ftlab.io import normal_tree, read_jsonl, temp_dir, write_json
from ftlab.params import BaseModelSpec

MERGE_FILE = "ftlab_merge.json"  # what was merged into what, and the equivalence check's figures


def adapter_base(adapter_dir: Path, base: BaseModelSpec | None = None) -> tuple[BaseModelSpec, dict | None]:
    """The base spec and bnb section an adapter was trained with (its ftlab_base.json), `base` overriding."""
    meta_file = Path(adapter_dir) / models.BASE_FILE
    if not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise models.ModelSourceError(f"{adapter_dir}: no adapter_config.json; give a directory saved by a train stage")
    if base is None and not meta_file.is_file():
        raise models.ModelSourceError(f"{adapter_dir}: no {models.BASE_FILE} (not saved by a train stage); "
                                      "name its base model with --base")
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {"bnb": None}
    return base or BaseModelSpec(**meta["base_model"]), meta.get("bnb")


def _dequantized_nf4_base(spec: BaseModelSpec, bnb_section: dict):
    """The float base whose linear weights are the 4-bit weights QLoRA trained on, de-quantized."""
    import bitsandbytes as bnb
    from transformers import BitsAndBytesConfig

    quantized = models.load_model(spec, BitsAndBytesConfig(**bnb_section))
    model = models.load_model(spec)
    replaced = 0
    with torch.no_grad():
        for name, module in quantized.named_modules():
            if isinstance(module, bnb.nn.Linear4bit):
                weight = bnb.functional.dequantize_4bit(module.weight.data, module.weight.quant_state)
                target = model.get_submodule(name).weight
                target.copy_(weight.to(device=target.device, dtype=target.dtype))
                replaced += 1
    del quantized
    gc.collect()
    print(f"de-quantized {replaced} 4-bit linear layers into the float base", file=sys.stderr)
    return model


def merged_model(adapter_dir: Path, base: BaseModelSpec | None = None, qlora_base: str = "dequantized"):
    """(merged model, tokenizer): the adapter merged into a float base (module docstring)."""
    from transformers import AutoTokenizer

    spec, bnb_section = adapter_base(adapter_dir, base)
    if bnb_section and qlora_base == "dequantized":
        model = _dequantized_nf4_base(spec, bnb_section)
    elif qlora_base in ("dequantized", "original"):
        model = models.load_model(spec)
    else:
        raise ValueError(f"qlora_base: {qlora_base!r}; expected dequantized or original")
    merged = models.load_adapter(model, adapter_dir).merge_and_unload()
    return merged, AutoTokenizer.from_pretrained(adapter_dir)  # the tokenizer saved with the adapter


def check_prompts(path: Path, n: int) -> list[list[dict]]:
    """The first n prompts (every turn but the answer) of a prepared split."""
    rows = read_jsonl(path)[:n]
    if not rows:
        raise models.ModelSourceError(f"{path}: no rows to check the merged model on")
    return [r["messages"][:-1] for r in rows]


def check(merged, adapted, tokenizer, prompts, max_new_tokens: int = 128, batch_size: int = 16) -> dict:
    """Greedy replies and prompt logits of the merged model vs base + adapter, on the same prompts."""
    diff = 0.0
    device = next(adapted.parameters()).device
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                return_dict=True, return_tensors="pt")["input_ids"].to(device)
            a, b = merged(ids).logits.float(), adapted(ids.to(next(merged.parameters()).device)).logits.float()
            diff = max(diff, (a.to(b.device) - b).abs().max().item())
    ours = generation.generate(merged, tokenizer, prompts, max_new_tokens, batch_size, desc="merged")
    theirs = generation.generate(adapted, tokenizer, prompts, max_new_tokens, batch_size, desc="base+adapter")
    matches = sum(x == y for (x, _), (y, _) in zip(ours, theirs))
    return {"rows": len(prompts), "exact_matches": matches, "match_rate": round(matches / len(prompts), 4),
            "max_new_tokens": max_new_tokens, "max_abs_logit_diff": float(f"{diff:.3g}")}


def merge(adapter_dir: Path, out_dir: Path, base: BaseModelSpec | None = None, qlora_base: str = "dequantized",
          check_rows: int = 0, check_data: Path = Path("data/prepared/test.jsonl"),
          max_new_tokens: int = 128, batch_size: int = 16) -> dict:
    """Write the merged standalone model + tokenizer to out_dir (atomically: a temporary directory next
    to it, renamed), with ftlab_merge.json; with check_rows, first compare it, loaded from disk with
    AutoModelForCausalLM alone, to base + adapter on the first check_rows prompts of check_data."""
    from transformers import AutoModelForCausalLM

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    spec, bnb_section = adapter_base(adapter_dir, base)
    prompts = check_prompts(check_data, check_rows) if check_rows else None  # fail early on a bad file
    model, tokenizer = merged_model(adapter_dir, base, qlora_base)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(out_dir.parent, f".{out_dir.name}-tmp-")
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        del model
        gc.collect()
        info = {"adapter": str(adapter_dir), "base_model": spec.model_dump(), "bnb": bnb_section,
                "merged_into": ("de-quantized 4-bit base" if qlora_base == "dequantized" else "original float base")
                if bnb_section else "float base",
                "exact": not bnb_section,
                # How the adapter was trained to be asked and to answer: a merged model needs the same prompt, and a
                # label_values "words" model writes severity as a word (ftlab.triage.to_spec puts it back).
                # `ftlab predict --base local:<this directory>` reads them from here.
                **{k: v for k, v in models.adapter_info(adapter_dir).items() if k in ("prompt", "answer_order", "label_values")}}
        if prompts:
            merged = AutoModelForCausalLM.from_pretrained(tmp, dtype="auto", local_files_only=True)
            merged.to("cuda" if torch.cuda.is_available() else "cpu")
            adapted, _ = models.load_for_inference(adapter_dir, base=base)
            info["check"] = {"data": str(check_data), **check(merged, adapted, tokenizer, prompts, max_new_tokens,
                                                              batch_size)}
            del merged, adapted
        write_json(tmp / MERGE_FILE, info)
        normal_tree(tmp)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}-old-"))
            out_dir.rename(old / "x")
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info
