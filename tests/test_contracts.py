"""ftlab.contracts: the paths between stages agree with dvc.yaml, and prepare's meta.json is read one way."""
import ast

import pytest
import yaml

from ftlab import contracts, tasks
from ftlab.io import DataFileError, write_json
from tests.conftest import REPO


def dvc_paths(entries) -> set[str]:
    """The plain paths of a dvc.yaml deps / outs / metrics list (code files and ${param} paths left out)."""
    paths = {next(iter(e)) if isinstance(e, dict) else e for e in entries or []}
    return {p for p in paths if not p.startswith(("stages/", "ftlab/", "${"))}


def test_every_stage_reads_and_writes_the_paths_dvc_yaml_lists():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = contracts.stage_paths()
    assert list(declared) == list(stages)
    for name, stage in stages.items():
        assert dvc_paths(stage["deps"]) == {str(p) for p in declared[name]["deps"]}, name
        outs = dvc_paths(stage.get("outs")) | dvc_paths(stage.get("metrics"))
        assert outs == {str(p) for p in declared[name]["outs"]}, name


def test_no_stage_script_spells_a_path_between_stages_itself():
    """A path of the contract written out again in a stage script would drift from dvc.yaml unseen (docstrings,
    which name the files for the reader, aside)."""
    spelled = {str(p) for s in contracts.stage_paths().values() for p in (*s["deps"], *s["outs"])}
    for script in sorted((REPO / "stages").glob("*.py")):
        tree = ast.parse(script.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and id(n) not in docstrings]
        found = sorted({p for p in spelled for text in strings if text.startswith(p)})
        assert not found, f"{script.name} spells {found}: name them through ftlab.contracts"


def test_meta_json_is_required_and_checked_by_the_task(tmp_path):
    with pytest.raises(DataFileError, match=r"meta.json: not found; the prepare stage writes it"):
        contracts.prepared_meta(tmp_path)
    write_json(tmp_path / "meta.json", {"task": "summaries"})
    with pytest.raises(DataFileError, match=r"needs \"task\": one of triage, generic"):
        contracts.prepared_meta(tmp_path)
    write_json(tmp_path / "meta.json", {"task": "triage", "prompt": "rubric", "answer_order": "sideways"})
    with pytest.raises(DataFileError, match=r"\"answer_order\" is 'sideways', not one of"):
        contracts.prepared_meta(tmp_path)
    write_json(tmp_path / "meta.json", {"task": "generic"})  # a generic data set has no prompt of ftlab's
    assert tasks.get(contracts.prepared_meta(tmp_path)["task"]).name == "generic"
