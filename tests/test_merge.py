"""ftlab merge on a tiny model built from config: the merged model is standalone and computes what
base + adapter computes (LoRA: to float rounding; QLoRA: close to the 4-bit base + adapter, not exact)."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftlab import cli, merge, models
from ftlab.io import write_jsonl
from ftlab.params import BaseModelSpec
from tests.conftest import triage_row

QLORA_BNB = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
             "bnb_4bit_compute_dtype": "float32"}


def _adapter(tiny_model_dir, out, target_modules, bnb=None):
    """An adapter as a train stage saves it, with random (non-zero) B matrices instead of training."""
    from peft import LoraConfig, get_peft_model

    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    torch.manual_seed(1)
    model = get_peft_model(models.load_model(spec), LoraConfig(r=4, lora_alpha=8, target_modules=target_modules))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)
    model.save_pretrained(out)
    models.load_tokenizer(spec).save_pretrained(out)
    (out / models.BASE_FILE).write_text(json.dumps({"base_model": spec.model_dump(), "bnb": bnb}))
    return out


@pytest.fixture
def prompts_file(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", [triage_row(i) for i in range(3)])
    return tmp_path / "test.jsonl"


def _logits(model, tokenizer, text="checkout-api returns HTTP 502 for 30% of requests"):
    with torch.no_grad():
        return model(tokenizer(text, return_tensors="pt")["input_ids"]).logits


def test_merged_lora_is_standalone_and_equals_base_plus_adapter(tmp_path, tiny_model_dir, prompts_file, capsys):
    adapter = _adapter(tiny_model_dir, tmp_path / "lora", ["q_proj", "k_proj", "v_proj", "o_proj"])
    out = tmp_path / "merged-lora"
    cli.main(["merge", "--adapter", str(adapter), "-o", str(out), "--check", "3", "--data", str(prompts_file),
              "--max-new-tokens", "12"])
    assert "greedy replies identical for 3/3 (match rate 100.0%" in capsys.readouterr().out

    # The merged directory loads with transformers alone: no adapter files, no PEFT.
    assert not (out / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    adapted, _ = models.load_for_inference(adapter)
    diff = (_logits(merged, tokenizer) - _logits(adapted, tokenizer)).abs().max().item()
    assert diff < 1e-5, diff
    with adapted.disable_adapter():  # and the adapter does change the model
        assert (_logits(merged, tokenizer) - _logits(adapted, tokenizer)).abs().max().item() > 1e-3

    info = json.loads((out / merge.MERGE_FILE).read_text())
    assert info["exact"] and info["check"]["match_rate"] == 1.0 and info["check"]["max_abs_logit_diff"] < 1e-5
    # how to ask it, from the adapter's ftlab_base.json (ftlab predict --base local:<dir> reads these)
    assert {k: info[k] for k in ("prompt", "answer_order", "label_values")} == {
        k: models.adapter_info(adapter)[k] for k in ("prompt", "answer_order", "label_values")}

    # Merging again replaces the directory atomically and leaves nothing behind.
    merge.merge(adapter, out)
    assert (out / "model.safetensors").is_file() and not (out / merge.MERGE_FILE).read_text().count('"check"')
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_merged_qlora_is_close_to_the_4bit_base_plus_adapter_not_exact(tmp_path, tiny_model_dir, prompts_file):
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    adapter = _adapter(tiny_model_dir, tmp_path / "qlora", targets, bnb=QLORA_BNB)
    adapted, tokenizer = models.load_for_inference(adapter)  # the 4-bit base + adapter, as evaluated
    assert adapted.base_model.model.is_loaded_in_4bit
    reference = _logits(adapted, tokenizer)
    diffs = {}
    for mode in ("dequantized", "original"):
        info = merge.merge(adapter, tmp_path / mode, qlora_base=mode, check_rows=2, check_data=prompts_file,
                           max_new_tokens=8)
        merged = AutoModelForCausalLM.from_pretrained(tmp_path / mode, local_files_only=True)
        assert getattr(merged.config, "quantization_config", None) is None  # a plain float model
        diffs[mode] = (_logits(merged, tokenizer) - reference).abs().max().item()
        assert not info["exact"] and info["check"]["rows"] == 2
    # Into the de-quantized NF4 weights: what the adapter saw, to float rounding. Into the original
    # float weights: off by the 4-bit rounding error.
    assert diffs["dequantized"] < 1e-4, diffs
    assert diffs["original"] > 10 * diffs["dequantized"], diffs


def test_merge_of_a_directory_without_an_adapter_stops_with_a_clear_message(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no adapter_config.json"):
        cli.main(["merge", "--adapter", str(tmp_path / "empty"), "-o", str(tmp_path / "out")])


def test_predict_on_a_merged_model_asks_it_as_its_adapter_was_trained(tmp_path, tiny_model_dir, monkeypatch):
    """`ftlab predict --base local:<merged>` reads the prompt and label values `ftlab merge` recorded: a model merged
    from a short-prompt, label_values words adapter is asked with the short prompt, decoded among the words, and its
    reply comes back with the spec's SEV value."""
    import shutil

    from ftlab import triage
    from ftlab.eval import generation

    merged = tmp_path / "merged"
    shutil.copytree(tiny_model_dir, merged)
    (merged / merge.MERGE_FILE).write_text(json.dumps({"prompt": "short", "answer_order": "spec", "label_values": "words"}))
    asked = {}

    def replies(model, tokenizer, prompts, max_new_tokens, batch_size, desc="", constrain=None, progress=True):
        asked.update(system=prompts[0][0]["content"], constrain=constrain)
        return [('{"severity": "critical", "category": "outage"}', 0.1)] * len(prompts)

    monkeypatch.setattr(generation, "generate", replies)
    (tmp_path / "r.jsonl").write_text(json.dumps({"id": "r0", "report": "Login is down for every user."}) + "\n")
    cli.main(["predict", str(tmp_path / "r.jsonl"), "-o", str(tmp_path / "p.jsonl"), "--base", f"local:{merged}"])
    assert asked["system"] == triage.SYSTEM_PROMPTS["short"]
    assert asked["constrain"]["severity"] == triage.enums("words")["severity"]
    assert json.loads((tmp_path / "p.jsonl").read_text())["prediction"]["severity"] == "SEV1"
