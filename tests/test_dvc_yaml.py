"""dvc.yaml lists, for every stage, each ftlab module the stage imports (directly or through another
ftlab module): otherwise DVC would skip a needed re-run when that module changes."""
import ast

import yaml

from tests.conftest import REPO


def ftlab_imports(path, seen=None) -> set[str]:
    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ftlab":
            # `from ftlab.x import y`: the module x, and y too where y is a module of the package x
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "ftlab"]
        for name in names:
            parts = name.split(".")
            for depth in range(2, len(parts) + 1):  # importing ftlab.a.b imports the package ftlab.a first
                module = REPO / ("/".join(parts[:depth]) + ".py")
                if not module.is_file():  # a package: its __init__.py
                    module = REPO / "/".join(parts[:depth]) / "__init__.py"
                if module.is_file() and str(module.relative_to(REPO)) not in seen:
                    seen.add(str(module.relative_to(REPO)))
                    ftlab_imports(module, seen)
    return seen


def test_data_and_training_stages_import_no_evaluation_code():
    """A change to a metric or a baseline re-runs the evaluation, never an hour of training on a CPU: the stages before
    evaluation (and the task objects they ask) import nothing of ftlab/eval/."""
    for name in ("generate_data", "prepare", "train_lora", "train_qlora"):
        assert not {m for m in ftlab_imports(REPO / "stages" / f"{name}.py") if m.startswith("ftlab/eval/")}, name


def test_every_stage_lists_its_script_and_every_ftlab_module_it_imports():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["generate_data", "prepare", "train_lora", "train_qlora", "evaluate_base", "evaluate", "report"]
    for name, stage in stages.items():
        script = REPO / "stages" / f"{name}.py"
        deps = set(stage["deps"])
        assert stage["cmd"] == f"python stages/{name}.py" and f"stages/{name}.py" in deps
        assert ftlab_imports(script) <= deps, f"{name}: missing {ftlab_imports(script) - deps}"
        listed_modules = {d for d in deps if d.startswith("ftlab/")}
        assert listed_modules <= ftlab_imports(script), f"{name}: lists unused {listed_modules - ftlab_imports(script)}"


def test_every_params_section_is_read_by_a_stage():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = {p.split(".")[0] for s in stages.values() for p in s.get("params", [])}
    assert set(params) == declared
