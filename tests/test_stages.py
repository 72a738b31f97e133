"""Stage scripts on small inputs: each stage's main() called in this process, as `python stages/NAME.py` calls it
(through ftlab.stage), and in a fresh interpreter only where the test is about the process (its exit status)."""
import json
import runpy
import subprocess
import sys

import yaml

from ftlab import triage
from ftlab.io import read_jsonl, write_jsonl
from tests.conftest import REPO, Ran, repo_params, run_in_process


def stage_main(name: str):
    """The main() that stages/NAME.py runs (its module run under another name, so its `__main__` block does not)."""
    if name.startswith("train_"):
        from ftlab.train.launch import main

        return lambda: main(name)
    return runpy.run_path(str(REPO / "stages" / f"{name}.py"), run_name="ftlab_test_stage")["main"]


def run_stage(name, cwd, check=True, process=False) -> Ran:
    """Run a stage in `cwd`: its main() through ftlab.stage.exit_on_error in this process, stdout and stderr
    captured and an exit status as the interpreter would give it; process=True: `python stages/NAME.py` in a fresh
    interpreter (what exit statuses and import-time behaviour need)."""
    if process:
        result = subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py")], cwd=cwd,
                                capture_output=True, text=True)
        ran = Ran(result.returncode, result.stdout, result.stderr)
    else:
        ran = run_in_process(stage_main(name), cwd)
    if check:
        assert ran.returncode == 0, ran.stderr[-3000:]
    return ran


def workdir(tmp_path, tiny_model_dir, **changes):
    data = repo_params()
    data["train_lora"]["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        data[section][key] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_generate_data_is_seeded_valid_and_balanced(tmp_path, tiny_model_dir):
    cwd = workdir(tmp_path, tiny_model_dir, generate_data__n_rows=96)
    run_stage("generate_data", cwd)
    first = (cwd / "data/generated/rows.jsonl").read_bytes()
    run_stage("generate_data", cwd)
    assert (cwd / "data/generated/rows.jsonl").read_bytes() == first  # same seed, same bytes
    rows = read_jsonl(cwd / "data/generated/rows.jsonl")
    assert len(rows) == 96 and all(triage.validate(r["triage"]) == [] for r in rows)
    counts = json.loads((cwd / "metrics/generate_data.json").read_text())
    assert set(counts["severity"].values()) == {24} and set(counts["category"].values()) == {24}


def test_prepare_dedups_splits_by_cell_and_counts_tokens(tmp_path, tiny_model_dir):
    cwd = workdir(tmp_path, tiny_model_dir, generate_data__n_rows=160, prepare__test_fraction=0.2)
    run_stage("generate_data", cwd)
    rows = read_jsonl(cwd / "data/generated/rows.jsonl")
    dup = dict(rows[0], id="copy", report="  " + rows[0]["report"].upper() + " ")
    write_jsonl(cwd / "data/generated/rows.jsonl", rows + [dup])
    run_stage("prepare", cwd)

    splits = {n: read_jsonl(cwd / f"data/prepared/{n}.jsonl") for n in ("train", "val", "test")}
    ids = [r["id"] for split in splits.values() for r in split]
    assert len(ids) == len(set(ids)) == 160 and "copy" not in ids
    assert {(r["severity"], r["category"]) for r in splits["test"]} == {
        (s, c) for s in triage.SEVERITIES for c in triage.CATEGORIES}  # every cell in test
    for row in splits["train"]:
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["messages"][0]["content"] == triage.SYSTEM_PROMPTS["short"]  # params.yaml prepare.prompt
        assert triage.parse_strict(row["messages"][2]["content"]) is not None
    stats = json.loads((cwd / "metrics/prepare.json").read_text())
    assert stats["rejected_exact_duplicate"] == 1 and stats["test_rows"] == len(splits["test"])
    assert 100 < stats["train_tokens_mean"] < stats["train_tokens_max"] < 2000

    run_stage("prepare", cwd)  # deterministic split
    assert read_jsonl(cwd / "data/prepared/test.jsonl") == splits["test"]


def test_stages_stop_with_one_clear_line_on_bad_input(tmp_path, tiny_model_dir):
    cwd = workdir(tmp_path, tiny_model_dir)
    result = run_stage("prepare", cwd, check=False, process=True)  # no generated data yet
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "error: data/generated/rows.jsonl: not found; run the stage that writes it (dvc repro)"

    (cwd / "params.yaml").write_text((cwd / "params.yaml").read_text().replace("r: 16", "r: 0", 1))  # train.lora.r
    result = run_stage("train_lora", cwd, check=False, process=True)
    assert result.returncode == 2
    assert result.stderr == "error: params.yaml: train.lora.r: 0 is out of range [1, inf] (read by train_lora)\n"
    assert "Traceback" not in result.stderr


def test_few_shot_k_above_the_training_rows_is_refused(tmp_path, tiny_model_dir):
    """evaluate_base used to take as many training rows as there were, fewer than evaluate.few_shot_k, while the
    report printed the k from params."""
    cwd = workdir(tmp_path, tiny_model_dir)
    data = yaml.safe_load((cwd / "params.yaml").read_text())
    data["evaluate"]["few_shot_k"] = 3
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))
    from tests.conftest import triage_row, write_meta

    write_jsonl(cwd / "data/prepared/train.jsonl", [triage_row(i) for i in range(2)])
    write_jsonl(cwd / "data/prepared/test.jsonl", [triage_row(i) for i in range(2, 4)])
    write_meta(cwd / "data/prepared")
    result = run_stage("evaluate_base", cwd, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: evaluate.few_shot_k: 3 examples, but data/prepared/train.jsonl has 2 rows; lower few_shot_k")
