"""The adapter a run leaves: saved into the run's staging folder with what ftlab needs to load and ask it (the
base, the prompt, the label values), made the same bytes wherever the same run is made, then renamed onto the out,
so a killed run never leaves a complete-looking adapter."""
import json
import os
import shutil
from pathlib import Path

from ftlab import models, params
from ftlab.io import normal_tree, write_json


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


def save(trainer, staging: Path, out_dir: Path, p: params.Train, meta: dict, values: str) -> None:
    """Save the trainer's adapter to `staging`, add ftlab's metadata and rename it onto out_dir: the base, and the
    prompt and answer order it was trained with (prepare's `meta`) and the label values it writes, so evaluate and
    `ftlab predict` ask it the same way and put its replies back to the spec's values. save_model is collective
    (FSDP gathers the adapter's shards) and writes on process 0 only."""
    if trainer.is_fsdp_enabled:  # gather the adapter into one file, not one shard per process
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(staging))
    if int(os.environ.get("RANK", 0)) != 0:
        return
    # What the adapter was trained on top of, so models.load_for_inference needs only this directory.
    write_json(staging / models.BASE_FILE, {"base_model": p.base_model.model_dump(), "bnb": p.bnb,
                                            "prompt": meta.get("prompt", "rubric"),  # generic: unused
                                            "answer_order": meta.get("answer_order", "spec"), "label_values": values})
    (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle of the args; params.yaml says it all
    sort_target_modules(staging / "adapter_config.json")
    portable_base_name(staging, p.base_model)
    normal_tree(staging)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
