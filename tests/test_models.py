import pytest
import torch

from ftlab import models
from ftlab.params import BaseModelSpec


def test_local_directory_loads_without_a_hub(tiny_model_dir):
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    model = models.load_model(spec)
    tokenizer = models.load_tokenizer(spec)
    assert model.config.hidden_size == 32 and tokenizer.pad_token is not None
    assert getattr(model, "hf_quantizer", None) is None


def test_missing_sources_say_which_and_what_to_do(tmp_path):
    with pytest.raises(models.ModelSourceError, match="is not a model directory \\(no config.json\\)"):
        models.resolve(BaseModelSpec(source="local", path=str(tmp_path / "nope")))
    with pytest.raises(models.ModelSourceError, match="GGUF file .* not found"):
        models.resolve(BaseModelSpec(source="gguf", path=str(tmp_path / "nope.gguf")))
    with pytest.raises(models.ModelSourceError, match="no embedded model 'gpt-5'"):
        models.resolve(BaseModelSpec(source="embedded", path="gpt-5"))


def test_truncated_gguf_is_refused_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_CACHE", str(tmp_path / "cache"))
    real = models._embedded_gguf("smollm2-135m-instruct")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(real.read_bytes()[:4096])
    with pytest.raises(models.ModelSourceError, match="is not a readable GGUF model"):
        models.resolve(BaseModelSpec(source="gguf", path=str(broken)))
    assert not list((tmp_path / "cache").glob("dequantized/*/config.json"))


def test_hub_source_offline_gives_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = BaseModelSpec(source="hub", path="Qwen/Qwen2.5-0.5B-Instruct", revision="7ae557604adf67be50417f59c2c2f167def9a775")
    with pytest.raises(models.ModelSourceError, match="cannot load the tokenizer"):
        models.load_tokenizer(spec)


def test_adapter_directory_without_config(tmp_path, tiny_model_dir):
    model = models.load_model(BaseModelSpec(source="local", path=str(tiny_model_dir)))
    with pytest.raises(models.ModelSourceError, match="no adapter_config.json"):
        models.load_adapter(model, tmp_path)


def test_concurrent_plain_runs_take_different_gpus(tmp_path):
    """device.claim_gpus: a process that holds GPU 3 makes the next one take GPU 5, and each sees only its own."""
    import os
    import subprocess
    import sys

    code = ("import os, sys, time; from ftlab import device; device.claim_gpus(); "
            "print(os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(float(sys.argv[1]))")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "3,5", "TMPDIR": str(tmp_path)}
    first = subprocess.Popen([sys.executable, "-c", code, "30"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "3"
        second = subprocess.run([sys.executable, "-c", code, "0"], env=env, capture_output=True, text=True)
        assert second.stdout.strip() == "5" and "uses GPU 5" in second.stderr
    finally:
        first.kill()
        first.wait()
    third = subprocess.run([sys.executable, "-c", code, "0"], env=env, capture_output=True, text=True)
    assert third.stdout.strip() == "3"  # the lock went with the process
    launched = subprocess.run([sys.executable, "-c", code, "0"], env={**env, "LOCAL_RANK": "1"}, capture_output=True, text=True)
    assert launched.stdout.strip() == "3,5"  # accelerate launch places its own processes


def test_launched_runs_claim_their_gpus_through_the_exec(tmp_path):
    """A run of 2 processes claims 2 free GPUs and keeps them through the exec into its launcher, so a second such
    run (two `dvc queue` workers on a 4-GPU box) takes the other two and a plain run then shares, with a note."""
    import os
    import subprocess
    import sys

    # claim, then exec (as train.main does into `accelerate launch`): the exec'd program reports and holds on
    launcher = ("import os, sys; from ftlab import device; device.claim_gpus(int(sys.argv[1])); "
                "os.execv(sys.executable, [sys.executable, '-c', "
                "'import os, sys, time; print(os.environ[\"CUDA_VISIBLE_DEVICES\"], flush=True); time.sleep(30)'])")
    plain = "import os; from ftlab import device; device.claim_gpus(); print(os.environ['CUDA_VISIBLE_DEVICES'])"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3", "TMPDIR": str(tmp_path)}
    runs = []
    try:
        for expected in ("0,1", "2,3"):
            runs.append(subprocess.Popen([sys.executable, "-c", launcher, "2"], env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
            assert runs[-1].stdout.readline().strip() == expected
        shared = subprocess.run([sys.executable, "-c", plain], env=env, capture_output=True, text=True)
        assert shared.stdout.strip() == "0" and "1 shared with another run" in shared.stderr
        four = subprocess.run([sys.executable, "-c", plain.replace("claim_gpus()", "claim_gpus(4)")], env=env,
                              capture_output=True, text=True)
        assert four.stdout.strip() == "0,1,2,3" and "4 shared with another run" in four.stderr
        five = subprocess.run([sys.executable, "-c", plain.replace("claim_gpus()", "claim_gpus(5)")], env=env,
                              capture_output=True, text=True)
        assert five.stdout.strip() == "0,1,2,3" and "note" not in five.stderr  # more than there are: accelerate's call
        runs.pop(0).kill()  # the first launcher ends: its GPUs are free again
        freed = subprocess.run([sys.executable, "-c", plain], env=env, capture_output=True, text=True)
        assert freed.stdout.strip() == "0"
        assert "shared" not in freed.stderr
    finally:
        for r in runs:
            r.kill()
            r.wait()


def test_gpus_needed_reads_launch_before_the_libraries(tmp_path, monkeypatch):
    from ftlab.train import launch

    monkeypatch.chdir(tmp_path)
    cases = [("train_lora: {launch: {num_processes: 2, multi_gpu: true}}", 2),
             ("train_lora: {launch: {num_processes: 1}}", 1),
             ("train_lora: {lora: {r: 8}}", 1),
             ("train_lora: {launch: {num_processes: two}}", 1),  # params.load names it afterwards
             ("train_lora: {launch: {num_processes: 2, gpu_ids: '4,5'}}", None),  # pinned: leave them be
             ("not: [valid", 1)]
    for text, expected in cases:
        (tmp_path / "params.yaml").write_text(text + "\n")
        assert launch.gpus_needed("train_lora") == expected, text


@pytest.mark.parametrize("avx512_bf16", [True, False])
def test_4bit_inference_takes_the_portable_path_on_every_cpu(tiny_model_dir, monkeypatch, avx512_bf16):
    """bitsandbytes 0.50 switches a 4-bit layer in eval mode to a fused bf16 kernel when the CPU has AVX512-BF16
    (which repacks the weights and fails on the tiny model's 32-wide layers): forced on and off here, so both
    branches run on any CI machine. ftlab.models keeps the portable path either way, and the replies agree."""
    import bitsandbytes.nn.modules as bnb_modules
    from transformers import BitsAndBytesConfig

    from ftlab import models
    from ftlab.eval import generation
    from ftlab.params import BaseModelSpec
    from tests.conftest import triage_row

    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: avx512_bf16)  # what each Linear4bit asks when built
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
    model, tokenizer = models.load_model(spec, q), models.load_tokenizer(spec)
    layers = [m for m in model.modules() if isinstance(m, bnb_modules.Linear4bit)]
    assert layers and not any(m.support_avx512bf16_for_cpu for m in layers)
    prompts = [triage_row(i)["messages"][:-1] for i in (1, 2)]
    replies = [text for text, _ in generation.generate(model, tokenizer, prompts, 6, 2)]
    assert all(isinstance(r, str) for r in replies)
    if avx512_bf16:  # the branch is real: without the switch back, the fused path runs and fails on this model
        for m in layers:
            m.support_avx512bf16_for_cpu = True
        with pytest.raises(RuntimeError, match="shape"):
            generation.generate(model, tokenizer, prompts, 6, 2)


def test_the_fused_kernel_warning_of_bitsandbytes_never_reaches_stderr(capfd):
    """The warning bitsandbytes logs at import on an AVX512-BF16 CPU (no `kernels` package): silenced by ftlab."""
    import logging

    import ftlab  # noqa: F401

    logging.getLogger("bitsandbytes.backends.cpu.ops").warning("Failed to load CPU gemm_4bit_forward from kernels-community")
    assert "gemm_4bit_forward" not in capfd.readouterr().err


def test_loading_errors_keep_the_librarys_reason(tmp_path, tiny_model_dir):
    """A model directory transformers refuses for a reason of its own: the error keeps that reason (it used to say
    only "(ValueError); check the path")."""
    import json
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "no-such-architecture"}))
    with pytest.raises(models.ModelSourceError, match=r"cannot load the model \(ValueError: .*no-such-architecture.*\); check the path"):
        models.load_model(BaseModelSpec(source="local", path=str(broken)))


def test_a_damaged_adapter_is_named_before_its_base_loads_wherever_it_is_loaded(tmp_path, monkeypatch):
    """Issue 30: the check `ftlab predict` made lives in models.load_for_inference, so evaluate and merge get it too."""
    import json

    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (tmp_path / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{")  # truncated
    monkeypatch.setattr(models, "load_base", lambda *a, **k: pytest.fail("the base was loaded"))
    with pytest.raises(models.ModelSourceError, match=r"adapter_model.safetensors: damaged .*; restore it"):
        models.load_for_inference(tmp_path, BaseModelSpec(source="embedded", path="smollm2-135m-instruct"))
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(models.ModelSourceError, match=r"adapter_config.json: damaged, not JSON"):
        models.load_for_inference(tmp_path, BaseModelSpec(source="embedded", path="smollm2-135m-instruct"))


def test_an_ftlab_cache_that_cannot_be_a_writable_folder_is_named_by_cache_dir(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("FTLAB_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(models.ModelSourceError, match=f"FTLAB_CACHE={tmp_path}/file/cache: {tmp_path}/file is a file"):
        models.cache_dir()
    monkeypatch.setenv("FTLAB_CACHE", str(tmp_path / "new" / "cache"))
    assert models.cache_dir() == tmp_path / "new" / "cache"  # not there yet: made when first written
