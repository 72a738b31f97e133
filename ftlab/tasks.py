"""The task a data folder holds, as an object: everything that differs between incident triage and a generic chat data
set, asked of the task instead of compared as a string in each stage.

- `triage` (../shared/triage-spec.md): the answer is the spec's JSON; rows carry gold labels, so there is a real split,
  label metrics, the label baselines, the faithfulness judge, constrained decoding of the label fields, and label
  values a model may be trained to write as words (triage.LABEL_VALUES).
- `generic`: a chat data set's own prompts and answers (prepare's `messages` / `prompt-completion` shapes); scored on
  its reference answers only, stratified on a `category` column when it has one.

prepare records the task's name in meta.json (ftlab.contracts.prepared_meta reads it); `get(name)` gives the object.
"""
import json

from ftlab import triage
from ftlab.io import DataFileError


class Task:
    name = ""
    # Gold labels: the real split, label metrics and baselines, the judge (ftlab.eval.metrics.metric_names and
    # baseline_names ask this; the task module imports nothing of ftlab.eval, so a change to a metric never
    # invalidates prepare's or a training stage's DVC cache).
    labelled = False

    def check_meta(self, meta: dict, path) -> None:
        """Refuse a meta.json that lacks what this task's training and evaluation read from it."""

    def label_values(self, configured: str) -> str:
        """The label values a model is trained to write (triage.LABEL_VALUES): `configured` where the task has labels."""
        return "spec"

    def gold(self, answer: str):
        """The gold labels of a reference answer, or None."""
        return None

    def split_label(self, chat: dict):
        """What prepare stratifies the test / val / train split on."""
        return chat.get("category", "")

    def label_fields(self, rows: list[dict]) -> list[tuple[str, list[str]]]:
        """(field, values) whose counts prepare's metrics report, zeros included."""
        return [("category", sorted({r["category"] for r in rows if "category" in r}))]

    def prompts(self, reports: list[str], chats: list, style: str, shots: list[dict]) -> list[list[dict]]:
        """The chat prompt of every row, with the few-shot `shots` (training rows) as turns before the last one."""
        examples = [m for s in shots for m in s["messages"] if m["role"] != "system"]
        return [[*chat[:-1], *examples, chat[-1]] if chat[0]["role"] == "system" else [*examples, *chat] for chat in chats]

    def constraint(self, values: str, constrained: bool):
        """The label fields' allowed values for constrained decoding, or None (free decoding)."""
        return None

    def json_within(self, tokens: int | None) -> int | None:
        """evaluate.json_within where the answer is JSON, else None."""
        return None

    def to_spec(self, text: str, values: str) -> str:
        """A reply with its label values put back to the spec's (a no-op without labels)."""
        return text

    def from_spec(self, text: str, values: str) -> str:
        """A reference answer as a model trained with `values` writes it (a no-op without labels)."""
        return text


class Triage(Task):
    name = "triage"
    labelled = True

    def check_meta(self, meta: dict, path) -> None:
        for key, known in (("prompt", triage.SYSTEM_PROMPTS), ("answer_order", triage.ORDERS)):
            if meta.get(key) not in known:
                raise DataFileError(f"{path}: \"{key}\" is {meta.get(key)!r}, not one of {', '.join(known)}; "
                                    "run the prepare stage again")

    def label_values(self, configured: str) -> str:
        return configured

    def gold(self, answer: str):
        return json.loads(answer)

    def split_label(self, chat: dict):
        return chat["severity"], chat["category"]

    def label_fields(self, rows: list[dict]) -> list[tuple[str, list[str]]]:
        return [("severity", list(triage.SEVERITIES)), ("category", list(triage.CATEGORIES))]

    def prompts(self, reports: list[str], chats: list, style: str, shots: list[dict]) -> list[list[dict]]:
        """triage.prompt(report, style), the shots (each report and its gold answer as a user and an assistant
        turn) between the system prompt and the report."""
        examples = [m for s in shots for m in (
            {"role": "user", "content": triage.report_of(s)},
            {"role": "assistant", "content": triage.dumps(json.loads(s["messages"][-1]["content"]))})]
        return [[p[0], *examples, p[1]] for p in (triage.prompt(report, style) for report in reports)]

    def constraint(self, values: str, constrained: bool):
        return triage.enums(values) if constrained else None

    def json_within(self, tokens: int | None) -> int | None:
        return tokens

    def to_spec(self, text: str, values: str) -> str:
        return triage.to_spec(text, values)

    def from_spec(self, text: str, values: str) -> str:
        return triage.from_spec(text, values)


class Generic(Task):
    name = "generic"


TASKS = {t.name: t for t in (Triage(), Generic())}


def get(name: str) -> Task:
    return TASKS[name]


def for_shape(shape: str) -> Task:
    """The task of a source shape (ftlab.data.sources.SHAPES): triage rows are triage; chat shapes are generic."""
    return TASKS["triage" if shape == "triage" else "generic"]
