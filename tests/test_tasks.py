"""ftlab.tasks: the seam between incident triage and a generic chat data set, each side on its own."""
import json

from ftlab import tasks, triage
from ftlab.eval import metrics
from tests.conftest import triage_row


def test_generic_task_uses_the_data_sets_own_prompts_and_has_no_labels():
    generic = tasks.get("generic")
    chats = [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
             [{"role": "user", "content": "Capital of France?"}]]
    shot = {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "1+1?"},
                         {"role": "assistant", "content": "2"}]}
    prompts = generic.prompts(["2+2?", "Capital of France?"], chats, "rubric", [shot])
    assert prompts[0] == [chats[0][0], shot["messages"][1], shot["messages"][2], chats[0][1]]  # shots after the system turn
    assert prompts[1] == [shot["messages"][1], shot["messages"][2], chats[1][0]]
    assert not generic.labelled and metrics.baseline_names(generic) == () and generic.gold('{"a": 1}') is None
    assert metrics.metric_names(generic) == metrics.GENERIC_METRICS
    assert generic.constraint("words", True) is None and generic.json_within(200) is None
    assert generic.label_values("words") == "spec" and generic.to_spec('"severity": "major"', "words") == '"severity": "major"'
    rows = [{"category": "b"}, {"category": "a"}, {}]
    assert generic.label_fields(rows) == [("category", ["a", "b"])] and generic.split_label(rows[2]) == ""


def test_triage_task_prompts_with_the_spec_and_maps_label_values():
    task = tasks.get("triage")
    row = triage_row(0, "SEV1", "outage")
    gold = json.loads(row["messages"][-1]["content"])
    prompts = task.prompts(["db down"], [None], "short", [row])
    assert prompts[0][0] == triage.prompt("db down", "short")[0] and prompts[0][-1]["content"].endswith("db down")
    assert json.loads(prompts[0][2]["content"]) == gold  # the shot's answer, in the spec's key order
    assert task.labelled and metrics.baseline_names(task) == metrics.BASELINES and task.gold(row["messages"][-1]["content"]) == gold
    assert task.constraint("words", False) is None and "critical" in task.constraint("words", True)["severity"]
    worded = task.from_spec(row["messages"][-1]["content"], "words")
    assert '"critical"' in worded and task.to_spec(worded, "words") == row["messages"][-1]["content"]
    assert task.split_label({"severity": "SEV2", "category": "outage"}) == ("SEV2", "outage")
    assert [f for f, _ in task.label_fields([])] == ["severity", "category"]


def test_a_source_shape_names_its_task():
    assert tasks.for_shape("triage").name == "triage"
    assert {tasks.for_shape(s).name for s in ("messages", "prompt-completion")} == {"generic"}
