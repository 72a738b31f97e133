"""Resume after a crash and determinism, on real training runs of a tiny model built from config.

A subprocess trains with checkpoints every 3 steps and is killed (SIGKILL) as soon as its first
checkpoint is complete; the rerun must resume from that checkpoint and end with the adapter of an
uninterrupted run. Two uninterrupted runs with the same params and data give the same adapter.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml
from safetensors.torch import load_file

from ftlab import params, train
from ftlab.io import write_jsonl
from tests.conftest import REPO, SLOW_STEPS, repo_params, triage_row, write_meta

# Max |difference| allowed between a resumed run's adapter and an uninterrupted run's, and between two
# uninterrupted runs. Measured on this CPU (torch 2.13, 2 threads): 0.0 for both, bit-identical.
RESUME_TOLERANCE = 1e-6
DETERMINISM_TOLERANCE = 0.0
STEPS, SAVE_STEPS = 6, 2  # 8 rows in batches of 2: 4 steps an epoch, so the checkpoint is mid-epoch

# The killed run: ftlab.train.train in a fresh interpreter, each optimizer step slowed down so the test
# can kill it between its first and second checkpoint (the sleep changes no number).
KILLED_RUN = SLOW_STEPS + """
import sys
from pathlib import Path
import yaml
from ftlab import params, train

data, out, live, root = map(Path, sys.argv[1:5])
p = params.parse("train_lora", yaml.safe_load(Path(sys.argv[5]).read_text()))
train.train(data, out, out.parent / "metrics.json", p, live, checkpoint_root=root)
"""


def _section(tiny_model_dir, **sft) -> dict:
    data = repo_params()
    section = data["train_lora"]
    section["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    section["max_train_rows"], section["max_val_rows"] = 8, 4
    section["sft"].update({"max_steps": STEPS, "logging_steps": 1, "learning_rate": 1e-2, "eval_steps": 3,
                           "save_strategy": "steps", "save_steps": SAVE_STEPS, "save_total_limit": 2, **sft})
    return data


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rows = [triage_row(i, severity=("SEV1", "SEV2", "SEV3")[i % 3]) for i in range(12)]
    write_jsonl(d / "train.jsonl", rows[:8])
    write_jsonl(d / "val.jsonl", rows[8:])
    return write_meta(d)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir, tiny_model_dir):
    """An uninterrupted run with the same params (checkpoints saved, never resumed)."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    (tmp / "models").mkdir()
    p = params.parse("train_lora", _section(tiny_model_dir))
    trainer, metrics = train.train(data_dir, tmp / "models" / "lora", tmp / "m.json", p, tmp / "live",
                                   checkpoint_root=tmp / "checkpoints")
    return tmp, metrics


def _adapter(path):
    return load_file(path / "adapter_model.safetensors")


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _steps(tsv) -> list[str]:
    return [line.split("\t")[0] for line in tsv.read_text().splitlines()[1:]]


def test_killed_run_resumes_from_its_last_checkpoint_and_ends_as_an_uninterrupted_run(
        tmp_path, data_dir, tiny_model_dir, uninterrupted, capfd):
    section = _section(tiny_model_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(section))
    out, live, root = tmp_path / "models" / "lora", tmp_path / "live", tmp_path / "checkpoints"
    out.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(data_dir), str(out), str(live), str(root),
                             str(tmp_path / "params.yaml")], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not list(root.glob(f"*/checkpoint-{SAVE_STEPS}/{train.checkpoints.COMPLETE}")):
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "no checkpoint within 240 s"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # killed before the end: no adapter
    run_dir, = root.iterdir()
    assert run_dir.name == train.checkpoints.run_key(params.parse("train_lora", section), data_dir)
    assert train.checkpoints.last_checkpoint(run_dir).name == f"checkpoint-{SAVE_STEPS}"
    assert not list(run_dir.glob(f"checkpoint-{2 * SAVE_STEPS}/{train.checkpoints.COMPLETE}"))  # killed before the 2nd
    lines_before = len((live / "plots/metrics/loss.tsv").read_text().splitlines())
    at_checkpoint = _adapter(run_dir / f"checkpoint-{SAVE_STEPS}")

    # The next run of the stage (what `dvc repro` does) resumes instead of starting over.
    capfd.readouterr()
    trainer, metrics = train.train(data_dir, out, tmp_path / "m.json", params.parse("train_lora", section), live,
                                   checkpoint_root=root)
    assert f"resuming from {run_dir / f'checkpoint-{SAVE_STEPS}'} (step {SAVE_STEPS})" in capfd.readouterr().err
    assert metrics["resumed_from_step"] == SAVE_STEPS and metrics["steps"] == STEPS
    # The Trainer ran only the remaining steps: its log has one loss per step, the first ones from the checkpoint.
    assert [log["step"] for log in trainer.state.log_history if "loss" in log] == list(range(1, STEPS + 1))

    reference_dir, reference = uninterrupted
    diff = _max_diff(_adapter(out), _adapter(reference_dir / "models" / "lora"))
    print(f"resumed vs uninterrupted adapter: max |diff| = {diff:.3g} (tolerance {RESUME_TOLERANCE})")
    assert diff <= RESUME_TOLERANCE
    assert _max_diff(at_checkpoint, _adapter(out)) > 100 * max(diff, 1e-6)  # the steps after the checkpoint count
    assert abs(metrics["train_loss"] - reference["train_loss"]) <= 1e-3
    assert metrics["eval_loss"] == pytest.approx(reference["eval_loss"], abs=1e-4)

    # The curves: every step once, as in the uninterrupted run (the steps logged after the checkpoint
    # by the killed run were dropped and logged again).
    assert lines_before > 1
    for name in ("loss.tsv", "learning_rate.tsv", "eval/loss.tsv"):
        assert _steps(live / "plots/metrics" / name) == _steps(reference_dir / "live/plots/metrics" / name)
    # and the tokens trained on go on from the checkpoint's count, not from zero (issue 30)
    assert (live / "plots/metrics/num_tokens.tsv").read_text() == \
        (reference_dir / "live/plots/metrics/num_tokens.tsv").read_text()

    # Success: the checkpoints are gone, the killed run's scratch directory too.
    assert list(root.iterdir()) == [] and list((reference_dir / "checkpoints").iterdir()) == []
    assert not list(out.parent.glob(".lora-work-*"))


def test_same_params_and_data_give_the_same_adapter(tmp_path, data_dir, tiny_model_dir, uninterrupted):
    # transformers.set_seed(sft.seed) seeds python, numpy and torch before the adapter is created,
    # and the Trainer seeds them again (and the data order, data_seed defaults to seed).
    p = params.parse("train_lora", _section(tiny_model_dir))
    train.train(data_dir, tmp_path / "lora", tmp_path / "m.json", p)  # no checkpoints at all this time
    reference_dir, _ = uninterrupted
    diff = _max_diff(_adapter(tmp_path / "lora"), _adapter(reference_dir / "models" / "lora"))
    print(f"two runs, same params and data: max |diff| = {diff:.3g}")
    assert diff <= DETERMINISM_TOLERANCE

    assert all(v.abs().sum() > 0 for k, v in _adapter(tmp_path / "lora").items() if "lora_B" in k)  # it trained


def test_run_key_changes_with_params_data_and_base(tmp_path, data_dir, tiny_model_dir):
    section = _section(tiny_model_dir)
    key = train.checkpoints.run_key(params.parse("train_lora", section), data_dir)
    assert key == train.checkpoints.run_key(params.parse("train_lora", _section(tiny_model_dir)), data_dir)
    assert key != train.checkpoints.run_key(params.parse("train_lora", _section(tiny_model_dir, learning_rate=2e-2)), data_dir)
    other = _section(tiny_model_dir)
    other["train_lora"]["base_model"]["path"] = str(tmp_path)
    assert key != train.checkpoints.run_key(params.parse("train_lora", other), data_dir)
    changed = tmp_path / "data"
    changed.mkdir()
    (changed / "val.jsonl").write_bytes((data_dir / "val.jsonl").read_bytes())
    (changed / "train.jsonl").write_bytes((data_dir / "train.jsonl").read_bytes().replace(b"eu-west", b"eu-east", 1))
    assert key != train.checkpoints.run_key(params.parse("train_lora", section), changed)


def test_only_a_complete_checkpoint_is_resumed(tmp_path):
    for step, complete in ((3, True), (6, True), (9, False)):  # 9: killed while the Trainer was saving it
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / train.checkpoints.COMPLETE).write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-x").mkdir()
    assert train.checkpoints.last_checkpoint(tmp_path) == tmp_path / "checkpoint-6"
    assert train.checkpoints.last_checkpoint(tmp_path / "missing") is None


def test_two_runs_with_the_same_params_at_once_both_finish(tmp_path, data_dir, tiny_model_dir, uninterrupted):
    """Two parallel `dvc queue` workers given the same training params share a run key: the second waits for the
    first's lock instead of exiting (issue 19: its experiment was lost), then trains, and both adapters are the
    uninterrupted run's."""
    section = _section(tiny_model_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(section))
    root = tmp_path / "checkpoints"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}

    def start(name):
        (tmp_path / name / "models").mkdir(parents=True)
        return subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(data_dir), str(tmp_path / name / "models" / "lora"),
                                 str(tmp_path / name / "live"), str(root), str(tmp_path / "params.yaml")], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    first = start("a")
    deadline = time.time() + 240
    while not list(root.glob("*/checkpoint-*")):  # the first holds the lock and is training
        assert first.poll() is None, first.stderr.read()[-3000:]
        assert time.time() < deadline, "the first run saved no checkpoint within 240 s"
        time.sleep(0.05)
    # The first is paused, lock held, until the second has met the lock: on a slow machine the first could
    # otherwise finish while the second is still importing torch, and the two would never overlap (CI, 2026-12-06).
    os.kill(first.pid, signal.SIGSTOP)
    second = start("b")
    err_lines = []
    reader = threading.Thread(target=lambda: err_lines.extend(second.stderr), daemon=True)
    reader.start()
    try:
        while not any("waiting: another process" in line for line in err_lines):
            assert second.poll() is None or any("waiting" in line for line in err_lines), "".join(err_lines)[-3000:]
            assert time.time() < deadline + 240, "the second run never met the first's lock"
            time.sleep(0.05)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    second.wait(timeout=300)
    reader.join(timeout=30)
    err_second = "".join(err_lines)
    _, err_first = first.communicate(timeout=300)
    assert first.returncode == 0, err_first[-3000:]
    assert second.returncode == 0, err_second[-3000:]
    assert "waiting: another process is training with the same params and data" in err_second
    reference_dir, _ = uninterrupted
    for name in ("a", "b"):
        diff = _max_diff(_adapter(tmp_path / name / "models" / "lora"), _adapter(reference_dir / "models" / "lora"))
        assert diff <= DETERMINISM_TOLERANCE
    assert list(root.iterdir()) == []  # and the checkpoints are gone after both
