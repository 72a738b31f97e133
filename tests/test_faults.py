"""Faults injected into the stages (issue 7): kill -9 during evaluate and during train_qlora, a disk
that fills up while an out is written, and `dvc repro` run twice at once in the same repo.

kill -9 during generate_data (tests/test_claude.py) and during LoRA training (tests/test_resume.py) are
tested where those features live. Each fault here checks the same three things: the stage stops with a
clear line or is killed, no out is left looking complete when it is not (the previous one stays, or
none), and the next run finishes (resuming where the stage supports it)."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml
from pathlib import Path

from ftlab.io import read_jsonl, write_jsonl
from tests import eval_inputs
from tests.conftest import REPO, SLOW_STEPS, repo_params, triage_row, write_meta

VENV_BIN = REPO / ".venv/bin"


def wait_for(condition, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else "exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stage(name, cwd, env=None, **kw):
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py")], cwd=cwd, capture_output=True,
                          text=True, env=env, **kw)


def env_with(**extra):
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **extra}


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory, tiny_model_dir):
    return eval_inputs.make(tmp_path_factory.mktemp("evaluate"), tiny_model_dir)


# The evaluate stage itself (runpy), each generation slowed down so that the test can kill it mid-run.
SLOW_EVALUATE = """
import runpy, sys, time
from ftlab.eval import generation
generate = generation.generate
def slow(*args, **kwargs):
    time.sleep(0.5)
    return generate(*args, **kwargs)
generation.generate = slow
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_kill_9_during_evaluate_keeps_the_previous_outs_and_the_rerun_finishes(tmp_path, eval_dir):
    cwd = tmp_path / "repo"
    shutil.copytree(eval_dir, cwd)
    # The previous run's outs: they must survive a killed run unchanged.
    write_jsonl(cwd / "data/eval/test_lora.jsonl", [{"id": "previous"}])
    (cwd / "metrics").mkdir()
    (cwd / "metrics/eval.json").write_text('{"previous": true}\n')
    (cwd / "metrics/delta.json").write_text('{"previous": true}\n')
    proc = subprocess.Popen([sys.executable, "-c", SLOW_EVALUATE, str(REPO / "stages/evaluate.py")], cwd=cwd, env=env_with(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    # Killed once the LoRA adapter's test rows are scored into the staging directory, before the QLoRA ones.
    wait_for(lambda: list((cwd / "data").glob(".eval-*/test_lora.jsonl")), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in (cwd / "data/eval").iterdir()) == ["test_lora.jsonl"]
    assert read_jsonl(cwd / "data/eval/test_lora.jsonl") == [{"id": "previous"}]  # the previous out, untouched
    assert json.loads((cwd / "metrics/eval.json").read_text()) == {"previous": True}
    assert json.loads((cwd / "metrics/delta.json").read_text()) == {"previous": True}
    leftover, = (cwd / "data").glob(".eval-*")  # the killed run's staging directory, not an out

    result = stage("evaluate", cwd, env=env_with())  # what the next `dvc repro` runs
    assert result.returncode == 0, result.stderr[-3000:]
    assert not leftover.exists() and not list((cwd / "data").glob(".eval-*"))
    names = {p.name for p in (cwd / "data/eval").iterdir()}
    assert names == {f"{s}_{m}.jsonl" for s in ("test", "real") for m in ("lora", "qlora")} | {
        f"probe_{m}.jsonl" for m in ("lora", "qlora")}
    assert [r["id"] for r in read_jsonl(cwd / "data/eval/test_lora.jsonl")] == ["t5", "t6"]
    results = json.loads((cwd / "metrics/eval.json").read_text())
    assert set(results["test"]) == {"base", "base_fewshot", "qlora_base", "majority", "classic", "lora", "qlora"}
    assert results["test"]["lora"]["rows"] == 2 and results["real"]["lora"]["rows"] == 2
    assert "lora_vs_classic" in json.loads((cwd / "metrics/delta.json").read_text())["test"]


def test_evaluate_refuses_an_adapter_trained_on_another_base(tmp_path, eval_dir):
    """Same shapes, other weights: PEFT would load it without a word, and the numbers would be meaningless."""
    cwd = tmp_path / "repo"
    shutil.copytree(eval_dir, cwd)
    meta = cwd / "models/lora/ftlab_base.json"
    other = dict(json.loads(meta.read_text()), base_model={"source": "local", "path": "/models/other", "revision": None})
    meta.write_text(json.dumps(other))
    result = stage("evaluate", cwd, env=env_with())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: models/lora: trained on base_model {'source': 'local', 'path': '/models/other'")
    assert line.endswith("run train_lora again (dvc repro) or restore the params")
    assert not (cwd / "data/eval").exists() and not list((cwd / "data").glob(".eval-*"))


# train_qlora's own entry point (ftlab.train.launch.main through stage.run, as stages/train_qlora.py calls it),
# each optimizer step slowed down so that the test can kill it between its first and second checkpoint.
SLOW_TRAIN_QLORA = SLOW_STEPS + """
from ftlab import stage
from ftlab.train.launch import main
stage.run(lambda: main("train_qlora"))
"""


def test_kill_9_during_train_qlora_resumes_from_its_checkpoint(tmp_path, tiny_model_dir):
    data = repo_params()
    section = data["train_qlora"]
    section["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    section["max_train_rows"], section["max_val_rows"] = 8, 2
    section["lora"] = {"r": 4}  # merged over train.lora
    section["sft"].update({"max_steps": 4, "save_steps": 2, "eval_steps": 2, "logging_steps": 1, "learning_rate": 1e-2})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    rows = [triage_row(i) for i in range(10)]
    write_jsonl(tmp_path / "data/prepared/train.jsonl", rows[:8])
    write_jsonl(tmp_path / "data/prepared/val.jsonl", rows[8:])
    write_meta(tmp_path / "data/prepared")
    cache = tmp_path / "cache"
    env = env_with(FTLAB_CACHE=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TRAIN_QLORA], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = cache / "checkpoints/train_qlora"
    wait_for(lambda: list(root.glob("*/checkpoint-2/ftlab_complete.json")), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert not (tmp_path / "models/qlora").exists()  # no adapter that looks complete
    assert not (tmp_path / "metrics/train_qlora.json").exists()
    assert not list(root.glob("*/checkpoint-4/ftlab_complete.json"))  # killed before the second checkpoint

    result = stage("train_qlora", tmp_path, env=env)  # what the next `dvc repro` runs
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stderr and "(step 2)" in result.stderr
    metrics = json.loads((tmp_path / "metrics/train_qlora.json").read_text())
    assert metrics["resumed_from_step"] == 2 and metrics["steps"] == 4 and metrics["loaded_in_4bit"] is True
    assert (tmp_path / "models/qlora/adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "models/qlora/ftlab_base.json").read_text())["bnb"]["load_in_4bit"] is True
    assert not list((tmp_path / "models").glob(".qlora-work-*"))


def limit_file_size(limit):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_disk_full_while_writing_an_out_is_one_line_and_the_previous_out_stays(tmp_path, tiny_model_dir):
    data = repo_params()
    data["generate_data"]["n_rows"] = 32
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    first = stage("generate_data", tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    outs = ["data/generated/rows.jsonl", "data/generated/quarantine.jsonl", "metrics/generate_data.json"]
    before = {name: (tmp_path / name).read_bytes() for name in outs}

    data["generate_data"]["n_rows"] = 800  # about 0.5 MB of rows: past a 64 KiB file size limit
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    full = subprocess.run([sys.executable, str(REPO / "stages/generate_data.py")], cwd=tmp_path, capture_output=True,
                          text=True, preexec_fn=limit_file_size(64 * 1024))
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert full.stderr.strip().splitlines()[-1] == (
        "error: data/generated/rows.jsonl: File too large: free some disk space (or raise the file size limit) "
        "and run the stage again; the file was not replaced")
    assert {name: (tmp_path / name).read_bytes() for name in outs} == before  # the previous outs, intact
    assert not list((tmp_path / "data/generated").glob(".*.tmp"))  # no temp file left behind

    again = stage("generate_data", tmp_path)  # space again: the next run finishes
    assert again.returncode == 0 and len(read_jsonl(tmp_path / "data/generated/rows.jsonl")) == 800


# A stage that holds the repo until the test lets it go: the second `dvc repro` starts while it runs.
HOLD = ("python -c \"import pathlib, time; pathlib.Path('started').touch(); "
        "[time.sleep(0.05) for _ in range(4000) if not pathlib.Path('release').exists()]; "
        "pathlib.Path('out.txt').write_text('done')\"")


def test_dvc_repro_twice_at_once_the_second_refuses_clearly(tmp_path):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    subprocess.run("git init -q && dvc init -q", shell=True, cwd=tmp_path, env=env, check=True)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"hold": {"cmd": HOLD, "outs": ["out.txt"]}}}))
    first = subprocess.Popen(["dvc", "repro"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        wait_for(lambda: (tmp_path / "started").exists(), first, timeout=120)
        second = subprocess.run(["dvc", "repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    finally:
        (tmp_path / "release").touch()
    out, _ = first.communicate(timeout=120)
    said = second.stdout + second.stderr
    assert second.returncode != 0 and "Traceback" not in said
    # DVC's own locks: the repo lock ("Unable to acquire lock") or the out's read/write lock ("is busy").
    assert "Unable to acquire lock" in said or "is busy, it is being blocked by" in said, said
    assert first.returncode == 0, out
    assert (tmp_path / "out.txt").read_text() == "done" and "hold" in yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]


# A stage (run through ftlab.stage.run, as every stage is) that says it started, then writes its out 30 s later
# unless it is stopped first.
ORPHAN = ("python -c \"import os, pathlib, time; from ftlab import stage; pathlib.Path('pid').write_text(str(os.getpid())); "
          "stage.run(lambda: time.sleep(30)); pathlib.Path('out.txt').write_text('written behind DVC')\"")


@pytest.mark.parametrize("shell", ["bash", "sh", "wrapper"])
def test_sigterm_to_dvc_repro_stops_the_stage_too(tmp_path, shell):
    """What a CI timeout sends: DVC exits 143 and does not stop its child; ftlab's stage stops with it.

    DVC runs the stage through $SHELL -c: bash execs the command (the stage is DVC's child), dash (/bin/sh on
    Debian, and what DVC uses when SHELL is unset, as on CI) stays in between, and so does a wrapper script."""
    if shell == "wrapper":
        (tmp_path / "wrapper").write_text('#!/bin/bash\n/bin/bash "$@"\nexit $?\n')
        (tmp_path / "wrapper").chmod(0o755)
    path = {"bash": shutil.which("bash"), "sh": "/bin/sh", "wrapper": str(tmp_path / "wrapper")}[shell]
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "PYTHONPATH": str(REPO), "SHELL": path}
    subprocess.run("git init -q && dvc init -q", shell=True, cwd=tmp_path, env=env, check=True)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"slow": {"cmd": ORPHAN, "outs": ["out.txt"]}}}))
    with open(tmp_path / "log", "w") as log:  # not a pipe: an orphaned stage would hold it open
        dvc = subprocess.Popen(["dvc", "repro"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), dvc, timeout=120)
        stage_pid = int((tmp_path / "pid").read_text())
        dvc.send_signal(signal.SIGTERM)
        assert dvc.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{stage_pid}").exists() and \
            Path(f"/proc/{stage_pid}/stat").read_text().split()[2] != "Z":
        time.sleep(0.2)
    alive = Path(f"/proc/{stage_pid}").exists() and Path(f"/proc/{stage_pid}/stat").read_text().split()[2] != "Z"
    if alive:
        os.kill(stage_pid, signal.SIGKILL)
    assert not alive, "the stage outlived dvc repro"
    assert not (tmp_path / "out.txt").exists()


def test_an_out_that_cannot_be_written_is_one_line_that_says_how_to_get_the_old_outs_back(capsys):
    """Issue 30: DVC deletes a stage's outs before the run, so a stage that fails on a read-only folder has lost them;
    the error (every stage runs through ftlab.stage.run, which prints it) says how to restore them, without a
    traceback."""
    import errno

    from ftlab import stage

    def fails(error):
        def main():
            raise error
        return main

    for code in (errno.EACCES, errno.EROFS):
        with pytest.raises(SystemExit) as stopped:
            stage.run(fails(PermissionError(code, os.strerror(code), "metrics/prepare.json")))
        assert str(stopped.value.code) == (
            f"error: metrics/prepare.json: {os.strerror(code)}: make its folder writable, then `dvc checkout` restores "
            "the outputs DVC removed before the stage ran, and run it again")
    with pytest.raises(ValueError, match="a bug"):  # anything else: the traceback, as before
        stage.run(fails(ValueError("a bug")))
