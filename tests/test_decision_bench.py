"""bench/decision.py's training-row choices that change labels: the lifted severities of notes/decision.md section 14
must change only the real rows whose severity_ok accepts the more severe label, in the answer the model learns too."""
import json
import shutil

from bench import decision
from ftlab.io import write_jsonl
from tests.conftest import REPO


def _row(i: int, severity: str, source: str) -> dict:
    answer = {"severity": severity, "category": "outage", "affected_services": ["api"], "summary": "s", "next_action": "n"}
    return {"id": f"{'train' if source == 'real' else 'gen'}-{i:04d}", "severity": severity, "category": "outage",
            "source": source, "messages": [{"role": "user", "content": f"report {i}"},
                                           {"role": "assistant", "content": json.dumps(answer)}]}


def test_lifted_labels_change_only_real_rows_that_accept_the_more_severe_label(tmp_path, monkeypatch):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data/prepared").mkdir(parents=True)
    (tmp_path / "data/real").mkdir(parents=True)
    oks = {1: ["SEV3", "SEV2"], 2: ["SEV3"], 3: ["SEV2", "SEV1"], 4: ["SEV4", "SEV3"]}
    rows = [_row(i, ok[0], "real") for i, ok in oks.items()] + [_row(9, "SEV3", "generated")]
    write_jsonl(tmp_path / "data/prepared/train.jsonl", rows)
    write_jsonl(tmp_path / "data/real/train.jsonl", [{"id": f"train-{i:04d}", "severity_ok": ok} for i, ok in oks.items()])
    monkeypatch.chdir(tmp_path)

    def severities(labels):
        out = decision.training_rows({"sources": "both", "labels": labels})
        assert all(json.loads(r["messages"][-1]["content"])["severity"] == r["severity"] for r in out)
        return {r["id"]: r["severity"] for r in out}

    plain = severities(None)
    assert plain == {"train-0001": "SEV3", "train-0002": "SEV3", "train-0003": "SEV2", "train-0004": "SEV4", "gen-0009": "SEV3"}
    assert severities("severe23") == {**plain, "train-0001": "SEV2"}
    assert severities("severe") == {**plain, "train-0001": "SEV2", "train-0003": "SEV1", "train-0004": "SEV3"}
