"""ftlab predict / score / merge refuse an output that would replace or delete what they read, before any work,
and name a missing input as missing."""
import json

import pytest

from ftlab import cli
from ftlab.io import write_jsonl
from tests.conftest import REPO


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory with dvc.yaml's outs in place: models/lora, models/qlora, data/eval."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train_lora:\n    cmd: x\n    outs: [models/lora]\n"
        "  train_qlora:\n    cmd: x\n    outs: [models/qlora]\n"
        "  evaluate:\n    cmd: x\n    outs: [data/eval]\n    metrics: [{metrics/eval.json: {cache: false}}]\n")
    for adapter in ("models/lora", "models/qlora"):
        (tmp_path / adapter).mkdir(parents=True)
        (tmp_path / adapter / "adapter_config.json").write_text("{}")
    (tmp_path / "models" / ".gitignore").write_text("/lora\n/qlora\n")
    write_jsonl(tmp_path / "reports.jsonl", [{"id": 1, "report": "checkout-api down for all users"}])
    return tmp_path


def _tree(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else b"") for p in root.rglob("*"))


@pytest.mark.parametrize("out, relation", [
    ("models", "contains the adapter"),          # once deleted models/lora, models/qlora and models/.gitignore
    ("models/lora", "is the adapter"),
    ("models/lora/merged", "lies inside the adapter"),
    ("models/qlora", "is the DVC out models/qlora"),
    ("data", "contains the DVC out data/eval"),
    (".", "contains"),
])
def test_merge_refuses_an_output_over_an_input_or_a_dvc_out_and_changes_nothing(project, out, relation):
    before = _tree(project)
    with pytest.raises(SystemExit, match=f"-o {out}: {relation}"):
        cli.main(["merge", "--adapter", "models/lora", "-o", out])
    assert _tree(project) == before


def test_predict_refuses_to_overwrite_its_input(project):
    before = (project / "reports.jsonl").read_bytes()
    with pytest.raises(SystemExit, match="-o reports.jsonl: is the reports file"):
        cli.main(["predict", "reports.jsonl", "-o", "reports.jsonl", "--adapter", "models/lora"])
    assert (project / "reports.jsonl").read_bytes() == before
    with pytest.raises(SystemExit, match="lies inside the adapter"):
        cli.main(["predict", "reports.jsonl", "-o", "models/lora/p.jsonl", "--adapter", "models/lora"])


def test_score_refuses_to_overwrite_the_labels(project):
    write_jsonl(project / "labels.jsonl", [{"id": 1, "severity": "SEV1", "category": "outage"}])
    write_jsonl(project / "preds.jsonl", [{"id": 1, "output": json.dumps({"severity": "SEV1"})}])
    before = (project / "labels.jsonl").read_bytes()
    with pytest.raises(SystemExit, match="-o labels.jsonl: is the labels file"):
        cli.main(["score", "preds.jsonl", "labels.jsonl", "-o", "labels.jsonl"])
    assert (project / "labels.jsonl").read_bytes() == before


def test_missing_inputs_are_named_as_missing(project):
    with pytest.raises(SystemExit, match="models/nope: the adapter directory does not exist"):
        cli.main(["predict", "reports.jsonl", "-o", "p.jsonl", "--adapter", "models/nope"])
    with pytest.raises(SystemExit, match="nope.jsonl: the reports file does not exist"):
        cli.main(["predict", "nope.jsonl", "-o", "p.jsonl", "--adapter", "models/lora"])
    with pytest.raises(SystemExit, match="models/nope: the adapter directory does not exist"):
        cli.main(["merge", "--adapter", "models/nope", "-o", "merged"])
    with pytest.raises(SystemExit, match="nope.jsonl: the labels file does not exist"):
        cli.main(["score", "p.jsonl", "nope.jsonl"])


def test_merge_refuses_to_replace_a_file_or_folder_it_did_not_write(project):
    """`-o results.csv` once deleted the user's file and put a model there (exit 0), `-o mywork` emptied a folder of
    notes: an existing output that is not an earlier merge (no ftlab_merge.json) is refused before any work."""
    (project / "results.csv").write_text("id,score\n1,0.9\n")
    (project / "mywork").mkdir()
    (project / "mywork" / "notes.md").write_text("my notes")
    before = _tree(project)
    with pytest.raises(SystemExit, match="-o results.csv: exists and is a file that ftlab did not write"):
        cli.main(["merge", "--adapter", "models/lora", "-o", "results.csv"])
    with pytest.raises(SystemExit, match="-o mywork: exists and is a directory .*pass --force"):
        cli.main(["merge", "--adapter", "models/lora", "-o", "mywork"])
    assert _tree(project) == before
    # An earlier merge's directory and an empty one pass this check (the adapter here is a stub, so the merge
    # itself then fails on loading it, which is not this check's error).
    (project / "merged").mkdir()
    (project / "merged" / "ftlab_merge.json").write_text("{}")
    (project / "empty").mkdir()
    for out in ("merged", "empty"):
        with pytest.raises(BaseException) as raised:
            cli.main(["merge", "--adapter", "models/lora", "-o", out])
        assert "did not write" not in str(raised.value)


@pytest.mark.parametrize("command", [
    ["predict", "reports.jsonl", "--adapter", "models/lora", "-o"],
    ["merge", "--adapter", "models/lora", "-o"],
    ["score", "reports.jsonl", "labels.jsonl", "-o"],
])
def test_an_output_path_that_cannot_be_written_is_refused_before_any_work(project, command):
    """-o under a regular file (or, for files, a directory) was found out only after the model had loaded and
    generated: now one line naming -o, before anything loads."""
    write_jsonl(project / "labels.jsonl", [{"id": 1, "severity": "SEV1", "category": "outage"}])
    (project / "notes.txt").write_text("mine")
    before = _tree(project)
    with pytest.raises(SystemExit, match="-o notes.txt/out/p.jsonl: notes.txt is a file, not a folder"):
        cli.main([*command, "notes.txt/out/p.jsonl"])
    if command[0] != "merge":
        (project / "adir").mkdir()
        with pytest.raises(SystemExit, match="-o adir: is a directory"):
            cli.main([*command, "adir"])
        (project / "adir").rmdir()
    assert _tree(project) == before


@pytest.mark.parametrize("argv, message", [
    (["predict", "reports.jsonl", "-o", "p.jsonl", "--batch-size", "0"], "argument --batch-size: 0 is out of range"),
    (["predict", "reports.jsonl", "-o", "p.jsonl", "--batch-size", "-3"], "argument --batch-size: -3 is out of range"),
    (["predict", "reports.jsonl", "-o", "p.jsonl", "--max-new-tokens", "0"], "argument --max-new-tokens: 0 is out of range"),
    (["predict", "reports.jsonl", "-o", "p.jsonl", "--batch-size", "many"], "argument --batch-size: 'many' is not a whole"),
    (["merge", "--adapter", "models/lora", "-o", "m", "--check", "-1"], "argument --check: -1 is out of range"),
    (["merge", "--adapter", "models/lora", "-o", "m", "--max-new-tokens", "-5"], "argument --max-new-tokens: -5 is out"),
])
def test_an_option_out_of_range_is_refused_by_name_before_any_work(project, capsys, argv, message):
    """A batch size of 0 once ended in `range() arg 3 must not be zero`, -3 in an unpacking TypeError and
    --max-new-tokens 0 in transformers' ValueError, after the model had loaded."""
    before = _tree(project)
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err
    assert _tree(project) == before


@pytest.mark.parametrize("cache", ["reports.jsonl", "reports.jsonl/cache"])
def test_an_ftlab_cache_that_cannot_be_a_folder_is_refused_before_a_model_loads(project, monkeypatch, cache):
    """FTLAB_CACHE a file, or a path under a file, was a NotADirectoryError traceback from the first mkdir. predict,
    merge and `ftlab check` (which `make repro` runs before `dvc repro`) name it first."""
    monkeypatch.setenv("FTLAB_CACHE", str(project / cache))
    before = _tree(project)
    for argv in (["predict", "reports.jsonl", "-o", "p.jsonl"], ["merge", "--adapter", "models/lora", "-o", "m"],
                 ["check", "--params", "params.yaml"]):
        if argv[0] == "check":
            import shutil

            shutil.copy(REPO / "params.yaml", project / "params.yaml")
            before = _tree(project)
        with pytest.raises(SystemExit, match=f"FTLAB_CACHE={project / cache}: {project / 'reports.jsonl'} is a file"):
            cli.main(argv)
        assert _tree(project) == before


def test_a_report_no_tokenizer_can_encode_is_named_by_line_before_a_model_loads(project):
    """A JSON escape of half a UTF-16 pair (\\ud800) decodes to a lone surrogate: the tokenizer raised a TypeError
    traceback after the model had loaded. It is the row's line and field now, and no output is written."""
    (project / "odd.jsonl").write_text('{"id": 1, "report": "db down"}\n{"id": 2, "report": "db down \\ud800 now"}\n')
    with pytest.raises(SystemExit, match=r"odd.jsonl: line 2: field 'report' holds '\\ud800' at character 8"):
        cli.main(["predict", "odd.jsonl", "-o", "p.jsonl"])
    assert not (project / "p.jsonl").exists()
