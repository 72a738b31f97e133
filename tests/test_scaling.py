"""ftlab.eval.scaling: the data-scaling curve's points from bench/decision.py results (grouped by training rows, mean and
range over seeds, Wilson intervals), its table and figure."""
import json

import pytest

from ftlab.eval import scaling


def case(real: int, generated: int, seed: int, lora_sev: float, classic_sev: float) -> dict:
    return {"case": f"g-x{real}", "seed": seed, "train_rows": {"generated": generated, "real": real},
            "reports_constrained": {"severity_accuracy": lora_sev, "category_accuracy": 0.9},
            "baselines": {"reports_classic_severity_accuracy": classic_sev, "reports_classic_category_accuracy": 0.8,
                          "reports_majority_severity_accuracy": 0.6, "reports_majority_category_accuracy": 0.3}}


def test_wilson_interval_matches_the_formula_and_stays_in_0_1():
    low, high = scaling.wilson(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert scaling.wilson(1.0, 10)[1] == 1.0 and scaling.wilson(0.0, 10)[0] == 0.0


def test_points_group_seeds_by_rows_and_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/real").mkdir(parents=True)
    (tmp_path / "data/real/reports.jsonl").write_text("{}\n" * 110)
    cases = [case(50, 0, 42, 0.5, 0.55), case(50, 0, 43, 0.7, 0.55), case(50, 679, 42, 0.8, 0.6),
             {"case": "old", "seed": 42, "test_constrained": {}}]  # a pre-issue-33 case without sources: skipped
    (tmp_path / "d.json").write_text(json.dumps({"cases": cases}))
    result = scaling.from_decision([tmp_path / "d.json"])
    assert result["rows"] == 110 and len(result["points"]) == 2
    alone, mixed = result["points"]
    assert (alone["generated"], mixed["generated"]) == (False, True) and alone["seeds"] == [42, 43]
    assert alone["lora_severity"] == 0.6 and (alone["lora_severity_min"], alone["lora_severity_max"]) == (0.5, 0.7)
    assert alone["classic_severity"] == 0.55 and alone["lora_severity_ci"] == scaling.wilson(0.6, 110)
    lines = scaling.table(result)
    assert lines[2].startswith("| 50 | no | 2 | 0.600 (0.500-0.700) | 0.550 |") and "| 50 | yes | 1 |" in lines[3]
    scaling.draw(result, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_points_from_dvc_experiments_in_dvc_exp_shows_json_shape(monkeypatch):
    """`dvc exp show --json` (the shape DVC 3 prints: the workspace and each commit, experiments under them): one
    point per (real rows, generated, seed), the workspace's copy of its commit counted once."""
    import subprocess

    def exp(seed, real, lora):
        real_split = {m: {"rows": 110, "severity_accuracy": s, "category_accuracy": 0.9}
                      for m, s in (("lora", lora), ("classic", 0.6), ("majority", 0.5))}
        metrics = {"metrics/eval.json": {"data": {"real": real_split}},
                   "metrics/prepare.json": {"data": {"train_rows_real": real, "train_rows_generated": 679}}}
        params = {"params.yaml": {"data": {"prepare": {}, "train_lora": {"sft": {"seed": seed}}}}}
        return {"data": {"params": params, "metrics": metrics}}

    shown = [{"rev": "workspace", **exp(42, 720, 0.6)},
             {"rev": "abc", **exp(42, 720, 0.6), "experiments": [{"revs": [exp(43, 720, 0.7), exp(42, 50, 0.4)]}]}]
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, json.dumps(shown), ""))
    result = scaling.from_exps()
    assert [(p["real_rows"], p["seeds"]) for p in result["points"]] == [(50, [42]), (720, [42, 43])]
    assert result["points"][1]["lora_severity"] == 0.65 and result["rows"] == 110


def test_a_file_can_name_the_cases_it_contributes_and_a_wrong_name_is_an_error(tmp_path, monkeypatch):
    """FILE:A,B keeps only A and B of FILE: a bench file that also holds other recipes' cases (another corpus,
    another learning rate) must not be averaged into the curve's points."""
    from ftlab.io import DataFileError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/real").mkdir(parents=True)
    (tmp_path / "data/real/reports.jsonl").write_text("{}\n" * 110)
    other = {**case(720, 679, 42, 0.1, 0.5), "case": "g-both-lr5e-4"}
    (tmp_path / "d.json").write_text(json.dumps({"cases": [case(50, 679, 42, 0.8, 0.6), other]}))
    kept = scaling.from_decision([f"{tmp_path / 'd.json'}:g-x50"])
    assert [(p["real_rows"], p["lora_severity"]) for p in kept["points"]] == [(50, 0.8)]
    assert len(scaling.from_decision([tmp_path / "d.json"])["points"]) == 2
    with pytest.raises(DataFileError, match="no case named g-x51"):
        scaling.from_decision([f"{tmp_path / 'd.json'}:g-x51"])
    with pytest.raises(DataFileError, match="missing.json: no such bench result"):
        scaling.from_decision([tmp_path / "missing.json"])
