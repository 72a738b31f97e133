"""Real training on a tiny model built from config: LoRA and QLoRA through ftlab.train, a few steps."""
import json
import math

import pytest
import torch
import yaml
from safetensors.torch import load_file

from ftlab import device, models, params, train
from ftlab.errors import TrainError
from ftlab.io import DataFileError, write_jsonl
from ftlab.train import launch
from tests.conftest import repo_params, triage_row, write_meta


def _params(stage, tiny_model_dir, **sft):
    data = repo_params()
    section = data[stage]
    section["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    section["max_train_rows"], section["max_val_rows"] = 8, 4
    section["sft"].update({"max_steps": 3, "logging_steps": 1, "learning_rate": 1e-2, **sft})
    return params.parse(stage, data)


@pytest.fixture
def data_dir(tmp_path):
    rows = [triage_row(i) for i in range(12)]
    write_jsonl(tmp_path / "data" / "train.jsonl", rows[:8])
    write_jsonl(tmp_path / "data" / "val.jsonl", rows[8:])
    return write_meta(tmp_path / "data")


def test_prompt_completion_puts_only_the_answer_in_the_completion():
    row = triage_row(1)
    pc = train.data.prompt_completion(row)
    assert [m["role"] for m in pc["prompt"]] == ["system", "user"]
    assert pc["completion"] == [row["messages"][2]]


def test_lora_trains_adapter_and_leaves_base_untouched(tmp_path, data_dir, tiny_model_dir):
    base = load_file(tiny_model_dir / "model.safetensors")
    p = _params("train_lora", tiny_model_dir, eval_steps=2)
    trainer, metrics = train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", p, tmp_path / "live")

    assert math.isfinite(metrics["train_loss"]) and math.isfinite(metrics["eval_loss"])
    assert metrics["steps"] == 3 and not metrics["loaded_in_4bit"]
    assert json.loads((tmp_path / "m.json").read_text()) == metrics
    adapter = load_file(tmp_path / "lora" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: non-zero means it trained
    assert {k.split(".")[-3] for k in adapter if "lora_" in k} >= {"q_proj", "k_proj", "v_proj", "o_proj"}
    # PEFT writes target_modules from a set, in the order of this process's string hashes: sorted, the file has
    # the same bytes in every process (DVC saw a changed out after each identical run).
    targets = json.loads((tmp_path / "lora" / "adapter_config.json").read_text())["target_modules"]
    assert len(targets) >= 7 and targets == sorted(targets)  # all-linear: q k v o gate up down (per layer)
    # the base as params.yaml names it, not the path it was loaded from (issue 30)
    assert json.loads((tmp_path / "lora/adapter_config.json").read_text())["base_model_name_or_path"] == \
        f"local:{tiny_model_dir}"
    # dvclive's record of the Trainer's arguments (a file in git) names no folder of this machine
    logged = yaml.safe_load((tmp_path / "live/params.yaml").read_text())
    assert logged["output_dir"] == "<a scratch folder>" and str(tmp_path) not in (tmp_path / "live/params.yaml").read_text()
    after = {k.removeprefix("base_model.model."): v for k, v in trainer.model.state_dict().items()}
    for name, weight in base.items():
        key = name.replace(".weight", ".base_layer.weight") if name.replace(".weight", ".base_layer.weight") in after else name
        assert torch.equal(after[key].float(), weight.float()), f"base weight {name} changed"
    assert not list(tmp_path.glob(".lora-work-*"))  # the staging directory is gone

    # dvclive logged every step: the curves dvc.yaml's plots and the report draw.
    curves = tmp_path / "live/plots/metrics"
    steps = lambda name: [int(line.split("\t")[0]) for line in (curves / name).read_text().splitlines()[1:]]
    assert steps("loss.tsv") == steps("learning_rate.tsv") == [1, 2, 3]  # at the optimizer step: one x axis
    assert steps("eval/loss.tsv")[0] == 2  # eval_steps=2

    # One call loads base + adapter for inference, and it is the model that was trained.
    loaded, tokenizer = models.load_for_inference(tmp_path / "lora")
    ids = tokenizer("checkout-api returns 502", return_tensors="pt")["input_ids"]
    trainer.model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, trainer.model(ids).logits, atol=1e-5)
        with loaded.disable_adapter():
            assert not torch.allclose(loaded(ids).logits, trainer.model(ids).logits, atol=1e-5)


def test_the_adapter_names_its_base_as_params_yaml_does_not_by_the_cache_path_it_was_loaded_from(tmp_path):
    """Issue 30: adapter_config.json and the model card carried the de-quantized copy's path under FTLAB_CACHE: a
    machine path in a DVC out, and another out (evaluation re-run) for the same training with another cache."""
    cached = "/home/someone/.cache/ftlab/dequantized/SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f-tf5.24.0"
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": cached, "r": 16}))
    (tmp_path / "README.md").write_text(f"---\nbase_model: {cached}\ntags:\n- base_model:adapter:{cached}\n---\n")
    train.adapter.portable_base_name(tmp_path, params.BaseModelSpec(source="embedded", path="smollm2-135m-instruct"))
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config == {"base_model_name_or_path": "embedded:smollm2-135m-instruct", "r": 16}
    card = (tmp_path / "README.md").read_text()
    assert "/home/someone" not in card and card.count("embedded:smollm2-135m-instruct") == 2
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/hub/cache/snapshots/ab12"}))
    train.adapter.portable_base_name(tmp_path, params.BaseModelSpec(source="hub", path="Qwen/Qwen2.5-0.5B-Instruct",
                                                                  revision="7ae557604adf67be50417f59c2c2f167def9a775"))
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        "Qwen/Qwen2.5-0.5B-Instruct"


def test_qlora_loads_base_in_4bit_and_trains(tmp_path, data_dir, tiny_model_dir):
    import bitsandbytes as bnb

    p = _params("train_qlora", tiny_model_dir)
    trainer, metrics = train.train(data_dir, tmp_path / "qlora", tmp_path / "m.json", p)
    linear4 = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(linear4) == 2 * 7  # q k v o gate up down in each of 2 layers: all-linear
    assert metrics["loaded_in_4bit"] and math.isfinite(metrics["train_loss"])
    adapter = load_file(tmp_path / "qlora" / "adapter_model.safetensors")
    assert any("mlp.down_proj.lora_B" in k for k in adapter)  # FFN targeted too
    assert all(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)


def test_empty_training_split_stops_with_a_clear_message(tmp_path, tiny_model_dir):
    write_jsonl(tmp_path / "data" / "train.jsonl", [])
    write_jsonl(tmp_path / "data" / "val.jsonl", [])
    write_meta(tmp_path / "data")
    with pytest.raises(TrainError, match="train.jsonl has no rows"):
        train.train(tmp_path / "data", tmp_path / "lora", tmp_path / "m.json", _params("train_lora", tiny_model_dir))


def test_a_data_folder_without_prepares_meta_json_is_refused_before_a_model_loads(tmp_path, data_dir, tiny_model_dir,
                                                                                   monkeypatch):
    """Issue 30: without meta.json the adapter recorded the rubric prompt whatever its rows were written with, and
    `ftlab predict` then asked it the wrong way (severity on real reports 0.74 -> 0.21 with the same weights)."""
    (data_dir / "meta.json").unlink()
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(DataFileError, match=r"meta.json: not found; the prepare stage writes it"):
        train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", _params("train_lora", tiny_model_dir))
    write_meta(data_dir, prompt="shrot")
    with pytest.raises(DataFileError, match=r"meta.json: \"prompt\" is 'shrot', not one of rubric, short"):
        train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", _params("train_lora", tiny_model_dir))
    assert not (tmp_path / "lora").exists()
    write_meta(data_dir)


def test_report_to_wandb_logs_offline_without_a_key(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    p = _params("train_lora", tiny_model_dir, report_to=["wandb"], eval_steps=2)
    _, metrics = train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", p)
    assert metrics["steps"] == 3
    import wandb

    # What the stage's exit does (wandb's atexit hook): finish the run and shut down wandb's service process, which
    # writes the offline run's file; on a slow machine the file held only its header until then (CI, 2026-12-03).
    wandb.finish()
    wandb.teardown()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1  # offline, no login asked, nothing sent
    logged = b"".join(f.read_bytes() for f in runs[0].glob("*.wandb"))
    assert b"train/loss" in logged and b"eval/loss" in logged


def test_report_to_all_or_dvclive_is_refused_because_the_stage_logs_to_dvclive_itself(tiny_model_dir):
    """transformers' report_to all includes dvclive when it is installed, whose default logger rewrites dvc.yaml."""
    for value in ("all", ["dvclive"], ["wandb", "dvclive"]):
        with pytest.raises(params.ParamsError, match="train_lora.sft.report_to: .*would rewrite dvc.yaml"):
            _params("train_lora", tiny_model_dir, report_to=value)


def test_mlp_chunk_tokens_trains_the_same_adapter_in_pieces(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    """mlp_chunk_tokens runs each MLP over 16-token pieces under checkpoints nested in the per-layer ones: the
    adapter must come out as without it (the MLP is per position), and the pieces must really have run."""
    import torch.utils.checkpoint as tuc

    adapters = {}
    for chunk in (None, 16):
        p = _params("train_lora", tiny_model_dir, activation_checkpointing=True)
        # LoRA on attention only, so the MLP computes only base weights: with LoRA on the MLP too (params.yaml's
        # all-linear) the pieces' matmuls round differently and 3 Adam steps at lr 1e-2 grew that past 1e-6 (measured).
        p = p.model_copy(update={"mlp_chunk_tokens": chunk,
                                 "lora": {**p.lora, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}})
        calls = []
        real = tuc.checkpoint
        monkeypatch.setattr(tuc, "checkpoint", lambda fn, *a, **k: calls.append(a[0].shape) or real(fn, *a, **k))
        trainer, _ = train.train(data_dir, tmp_path / f"lora-{chunk}", tmp_path / "m.json", p)
        monkeypatch.setattr(tuc, "checkpoint", real)
        adapters[chunk] = load_file(tmp_path / f"lora-{chunk}" / "adapter_model.safetensors")
        pieces = [s for s in calls if s[-1] == 32 and s[-2] <= 16]  # hidden 32: an MLP input of at most 16 tokens
        if chunk:
            assert len(pieces) > 2 and all(l.mlp.forward.__name__ == "run" for l in trainer.model.base_model.model.model.layers)
        else:
            assert not pieces
    assert adapters[None].keys() == adapters[16].keys()
    for k in adapters[None]:
        assert torch.allclose(adapters[None][k], adapters[16][k], atol=1e-6), k


def test_mlp_chunk_tokens_names_itself_when_an_mlp_returns_more_than_a_tensor():
    class Experts(torch.nn.Module):  # the shape of a mixture-of-experts block: (hidden, router logits)
        def forward(self, x):
            return x, x.sum(-1)

    layer = torch.nn.Module()
    layer.mlp = Experts()
    assert train.patches.chunk_mlps(layer, 2) == 1
    assert layer.mlp(torch.zeros(1, 2, 4))[0].shape == (1, 2, 4)  # up to 2 tokens: untouched
    with pytest.raises(TypeError, match="mlp_chunk_tokens: Experts returns tuple.*mlp_chunk_tokens: null"):
        layer.mlp(torch.zeros(1, 5, 4))


def test_bf16_autocast_skips_the_lora_input_cast_and_trains_the_same_adapter(tmp_path, data_dir, tiny_model_dir, monkeypatch):
    """Under bf16 autocast ftlab turns off PEFT's float32 copy of each LoRA input (autocast casts it back for the
    matmul anyway): the adapter must equal the one PEFT's casting path trains. lora_dropout 0: a CPU's bf16
    dropout rounds its 1/(1-p) scale to bf16 (CUDA's computes it in float32; there the bench's losses match)."""
    import peft.helpers

    real, seen = peft.helpers.disable_input_dtype_casting, []
    adapters = {}
    for force_cast in (False, True):
        def spy(model, active=True):
            seen.append(active)
            return real(model, active=active and not force_cast)
        monkeypatch.setattr(peft.helpers, "disable_input_dtype_casting", spy)
        p = _params("train_lora", tiny_model_dir, bf16=True)
        p.lora["lora_dropout"] = 0.0
        train.train(data_dir, tmp_path / f"lora-{force_cast}", tmp_path / "m.json", p)
        adapters[force_cast] = load_file(tmp_path / f"lora-{force_cast}" / "adapter_model.safetensors")
    assert seen == [True, True]  # bf16: ftlab asks for no cast
    for k in adapters[False]:
        assert torch.equal(adapters[False][k], adapters[True][k]), k
    # without autocast (the CPU's float32 default) nothing is turned off
    seen.clear()
    monkeypatch.setattr(peft.helpers, "disable_input_dtype_casting", lambda model, active=True: (seen.append(active), real(model, active))[1])
    train.train(data_dir, tmp_path / "lora-fp32", tmp_path / "m.json", _params("train_lora", tiny_model_dir))
    assert seen == [False]


def test_label_values_words_trains_on_words_and_its_replies_come_back_as_the_specs_values(tmp_path, data_dir,
                                                                                         tiny_model_dir, monkeypatch):
    """train_lora.label_values: words. The training targets carry severity as a word (triage.LABEL_VALUES), the
    label weight still finds the value's tokens, the adapter records it, and `ftlab predict` decodes the label
    among the words and writes the spec's SEV value back (notes/decision.md: why a word)."""
    from ftlab import cli, triage
    from ftlab.eval import generation

    row = triage_row(1, severity="SEV1")
    completion = train.data.prompt_completion(row, "words")["completion"][0]["content"]
    assert json.loads(completion) == {**json.loads(row["messages"][2]["content"]), "severity": "critical"}
    assert train.data.prompt_completion(row)["completion"][0]["content"] == row["messages"][2]["content"]
    tokenizer = models.load_tokenizer(params.BaseModelSpec(source="local", path=str(tiny_model_dir)))
    ids = torch.tensor([tokenizer(completion, add_special_tokens=False)["input_ids"]])
    weighted = [tokenizer.decode([t]) for t, w in zip(ids[0], train.recipe.LabelWeights(tokenizer, 10.0)(ids)[0]) if w > 1]
    assert "".join(weighted) == "critical" + "degradation"  # the word and the category, nothing else

    p = _params("train_lora", tiny_model_dir).model_copy(update={"label_values": "words"})
    train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", p)
    assert models.adapter_info(tmp_path / "lora")["label_values"] == "words"

    # A tiny model trained for 3 steps writes no JSON, so its replies are stood in for: what predict asks the
    # decoder for (the words) and what it does with a reply (the spec's value back, the rest byte for byte).
    asked = {}

    def replies(model, tokenizer, prompts, max_new_tokens, batch_size, desc="", constrain=None, **_):
        asked["constrain"] = constrain
        return [(triage.from_spec(row["messages"][2]["content"], "words"), 0.1)] * len(prompts)

    monkeypatch.setattr(generation, "generate", replies)
    write_jsonl(tmp_path / "reports.jsonl", [{"id": "r0", "report": row["messages"][1]["content"]}])
    cli.main(["predict", str(tmp_path / "reports.jsonl"), "-o", str(tmp_path / "preds.jsonl"),
              "--adapter", str(tmp_path / "lora")])
    assert asked["constrain"]["severity"] == ("critical", "major", "minor", "harmless")
    pred = json.loads((tmp_path / "preds.jsonl").read_text())
    assert pred["output"] == row["messages"][2]["content"] and pred["format_conformance"]


def test_compact_lm_head_projects_only_the_labelled_positions_on_a_cpu_with_the_same_loss(tmp_path, data_dir,
                                                                                         tiny_model_dir, monkeypatch):
    """Off Triton devices TRL's fused LM head projects every position (prompt and padding too); compact_lm_head
    makes a CPU project only those with a label, as CUDA does: the same loss and gradients, fewer rows through
    the head. Training runs with it on (the spy sees the compact path chosen inside train.train)."""
    import contextlib

    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs",))
    torch.manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (2, 12))
    labels = ids.clone()
    labels[:, :7] = -100   # the prompt
    labels[1, 10:] = -100  # padding
    projected, real = [], trl_utils._ChunkedLogProbFunction.apply
    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", staticmethod(
        lambda hidden, *a: projected.append((hidden.shape[0], trl_utils._use_triton(hidden.device))) or real(hidden, *a)))
    results = []
    for compact in (contextlib.nullcontext, train.patches.compact_lm_head):
        model.zero_grad()
        with compact():
            out = model(input_ids=ids, labels=labels, fused_lm_head=True)
        out.loss.backward()
        results.append((out.loss.item(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    assert projected == [(2 * 11, False), (int((labels[:, 1:] != -100).sum()), True)]  # 22 rows, then 9
    assert not trl_utils._use_triton(torch.device("cpu"))  # put back
    assert results[0][0] == pytest.approx(results[1][0], abs=1e-6)
    for full, compact in zip(results[0][1], results[1][1]):
        assert torch.allclose(full, compact, atol=1e-6)

    projected.clear()
    train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", _params("train_lora", tiny_model_dir))
    assert projected and all(compact for _, compact in projected)


def test_settings_that_would_fail_or_mislead_inside_the_trainer_stop_first_naming_the_key(tmp_path, data_dir,
                                                                                        tiny_model_dir, monkeypatch):
    """Values params validation accepts because only the data or the machine can refute them (issue 19's sweep):
    each stops the run before training with the key's name, instead of a Trainer traceback or a silent no-op."""
    def stops(p, match, data=data_dir):
        with pytest.raises(TrainError) as e:
            train.train(data, tmp_path / "lora", tmp_path / "m.json", p)
        assert match in str(e.value), e.value
        assert not (tmp_path / "lora").exists()

    # validation loss asked for, but no validation rows (prepare.val_fraction: 0)
    (tmp_path / "noval").mkdir()
    (tmp_path / "noval" / "train.jsonl").write_text((data_dir / "train.jsonl").read_text())
    (tmp_path / "noval" / "val.jsonl").write_text("")
    write_meta(tmp_path / "noval")
    stops(_params("train_lora", tiny_model_dir, eval_strategy="steps", eval_steps=1),
          "sft.eval_strategy: steps needs validation rows", tmp_path / "noval")
    # a warmup longer than the run: the learning rate never reaches its peak
    stops(_params("train_lora", tiny_model_dir, warmup_steps=5), "sft.warmup_steps: 5 steps of warmup in a run of 3 steps")
    # float16 autocast on a CPU: transformers trained in float32 without a word (issue 30)
    stops(_params("train_lora", tiny_model_dir, fp16=True), "sft.fp16: true, but this machine has no CUDA GPU")
    # a max_length below the rows' length: TRL would keep each row's start and cut its answer off
    stops(_params("train_lora", tiny_model_dir, max_length=64), "sft.max_length: 8 training rows are longer than 64 tokens")
    # a misspelt name beside a good one: PEFT would adapt q_proj only, without a word
    p = _params("train_lora", tiny_model_dir)
    p = p.model_copy(update={"lora": {**p.lora, "target_modules": ["q_proj", "v_prj"]}})
    stops(p, "lora.target_modules: 'v_prj' match no module of the base model; its linear layers are")
    p = p.model_copy(update={"lora": {**p.lora, "target_modules": r".*\.v_prj"}})  # a regex, as PEFT reads a string
    stops(p, r"lora.target_modules: '.*\\.v_prj' match no module")
    for good in ("all-linear", r".*\.(q|v)_proj", ["q_proj", "v_proj"]):  # these train
        p = p.model_copy(update={"lora": {**p.lora, "target_modules": good}})
        train.checks.check_targets(models.load_model(p.base_model), p.lora)


def test_a_stage_that_accelerate_started_as_one_plain_process_does_not_launch_itself_again(tmp_path, monkeypatch):
    """When `accelerate launch` runs the stage as one plain process (no LOCAL_RANK), the stage would see
    launch.num_processes > 1 and launch itself again, without end: the second launch is refused."""
    data = repo_params()
    data["train_lora"]["launch"] = {"num_processes": 2, "multi_gpu": True}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("FTLAB_LAUNCHED", "1")  # what the first launch leaves for the process accelerate starts
    monkeypatch.setattr(launch.os, "execv", lambda *a: pytest.fail("launched again"))
    with pytest.raises(TrainError) as e:
        launch.main("train_lora")
    assert "train_lora.launch.num_processes: 2, but `accelerate launch` started a single process" in str(e.value)


def test_the_cuda_branches_of_the_recipe_on_a_cpu_with_cuda_forced(tmp_path, tiny_model_dir, monkeypatch):
    """The recipe branches on CUDA: bf16 autocast by default only on a GPU that has it and never with fp16; the
    compact LM-head switch leaves CUDA to TRL's own choice; the metrics name the GPU. Forced both ways here, so a
    CPU-only CI runs the GPU branches too (the SFTConfig is recorded, not built: building it needs a real GPU)."""
    import trl
    import trl.trainer.utils as trl_utils

    plain, with_fp16 = _params("train_lora", tiny_model_dir), _params("train_lora", tiny_model_dir, fp16=True)
    monkeypatch.setattr(trl, "SFTConfig", lambda **kw: kw)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for supported, p, expected in ((True, plain, True), (False, plain, False), (True, with_fp16, False)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)
        kw = train.recipe.sft_config(p.sft, str(tmp_path))
        assert kw["bf16"] is expected and kw["use_cpu"] is False, (supported, p.sft.get("fp16"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H200")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert device.device_name() == "cuda: NVIDIA H200 x2"
    monkeypatch.undo()
    assert device.device_name() == f"cpu: {device.cpu_model()} ({torch.get_num_threads()} threads)"
    monkeypatch.setattr(device, "cpu_model", lambda: "AMD EPYC")
    assert device.device_name() == f"cpu: AMD EPYC ({torch.get_num_threads()} threads)"  # two CPUs, two names
    monkeypatch.undo()
    # cpu_model's two branches: /proc/cpuinfo's model name, and the platform's string where there is no such file
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: AMD EPYC\n")
    monkeypatch.setattr(device, "Path", lambda _: tmp_path / "cpuinfo")
    assert device.cpu_model() == "AMD EPYC"
    monkeypatch.setattr(device, "Path", lambda _: tmp_path / "no-cpuinfo")
    monkeypatch.setattr("platform.processor", lambda: "arm")
    assert device.cpu_model() == "arm"
    monkeypatch.undo()
    original = trl_utils._use_triton
    with train.patches.compact_lm_head():
        assert trl_utils._use_triton(torch.device("cpu")) is True
        assert trl_utils._use_triton(torch.device("cuda")) == original(torch.device("cuda"))  # TRL's own choice


def test_run_metrics_of_a_resumed_run_count_its_own_tokens_and_every_steps_loss():
    """The figures of a run resumed at step 2 of 4: tokens per second over this run's tokens only (the log history
    starts with the earlier run's), the training loss over all four steps (the Trainer averages this run's only)."""
    from ftlab.train.run_metrics import run_metrics

    history = [{"step": 1, "loss": 4.0, "num_tokens": 100}, {"step": 2, "loss": 2.0, "num_tokens": 200},
               {"step": 2, "eval_loss": 1.9}, {"step": 3, "loss": 1.0, "num_tokens": 300},
               {"step": 4, "loss": 1.0, "num_tokens": 400}]
    m = run_metrics(history, global_step=4, training_loss=1.0, resumed_step=2, seconds=10.0, eval_loss=0.98765)
    assert m == {"train_loss": 2.0, "eval_loss": 0.9877, "steps": 4, "resumed_from_step": 2, "train_seconds": 10.0,
                 "train_tokens_per_s": 20.0}
    fresh = run_metrics(history, global_step=4, training_loss=2.0, resumed_step=0, seconds=10.0, eval_loss=None)
    assert fresh["train_loss"] == 2.0 and fresh["train_tokens_per_s"] == 40.0 and fresh["eval_loss"] is None
    assert run_metrics([], 0, 0.0, 0, 1.0, None)["train_tokens_per_s"] is None  # no step logged: no speed
