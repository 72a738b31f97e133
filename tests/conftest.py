import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Prepended to a training script run in a fresh interpreter: each optimizer step sleeps 0.4 s, so that a
# test can kill the run between two checkpoints (the sleep changes no number).
SLOW_STEPS = """
import time, trl
_step = trl.SFTTrainer.training_step
def _slow(self, *args, **kwargs):
    time.sleep(0.4)
    return _step(self, *args, **kwargs)
trl.SFTTrainer.training_step = _slow
"""
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach a hub


def repo_params() -> dict:
    """The repository's params.yaml as a dict, for a test's own working directory: its paths into the repo
    (the real-text files) made absolute, so a stage run elsewhere still finds them."""
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in ("real", "dev", "real_train"):
        data["prepare"][key] = str(REPO / data["prepare"][key])
    # Tests train tiny models on their own rows; the real training corpus is mixed in only where a test says so
    # (tests/test_prepare.py's source tests).
    data["prepare"]["mix"]["real"] = 0
    return data


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama built from config (hidden 32, 2 layers) with SmolLM2's real tokenizer and
    chat template, saved like any local model directory: what TRL's own tests train on."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ftlab.models import _embedded_gguf

    gguf = _embedded_gguf("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def write_meta(data_dir: Path, prompt: str = "rubric") -> Path:
    """prepare's meta.json for a data folder of triage_row rows (written with the rubric prompt, keys in spec order)."""
    from ftlab.io import write_json

    write_json(Path(data_dir) / "meta.json", {"task": "triage", "shape": "triage", "source": "test", "prompt": prompt,
                                              "answer_order": "spec"})
    return Path(data_dir)


def triage_row(i: int, severity="SEV2", category="degradation") -> dict:
    from ftlab import triage

    report = f"Since 14:{i % 60:02d} UTC checkout-api returns HTTP 502 for about {i}% of requests in eu-west."
    gold = {
        "severity": severity, "category": category, "affected_services": ["checkout-api"],
        "summary": f"checkout-api returns HTTP 502 for about {i}% of requests in eu-west.",
        "next_action": "Roll back the last checkout-api deploy.",
    }
    return {
        "id": f"t{i}", "severity": severity, "category": category,
        "messages": [
            {"role": "system", "content": triage.SYSTEM_PROMPT},
            {"role": "user", "content": report},
            {"role": "assistant", "content": triage.dumps(gold)},
        ],
    }


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_in_process(main, cwd) -> Ran:
    """main() called in `cwd` in this process as the interpreter would run it: through ftlab.stage.exit_on_error
    (stages and the CLI end that way), stdout and stderr captured, and the exit status a process would have."""
    from ftlab.stage import exit_on_error

    out, err, code, here = io.StringIO(), io.StringIO(), 0, os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                exit_on_error(main)
            except SystemExit as e:  # sys.exit("error: ..."): the interpreter prints the text, status 1
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
    finally:
        os.chdir(here)
    return Ran(code, out.getvalue(), err.getvalue())
