"""Where prepare's rows come from, and the four shapes they may have, each turned into chat rows.

Sources: a local .jsonl, .json, .csv or .parquet file, or a Hugging Face dataset id. JSONL is read by
ftlab.io line by line, keeping each row exactly as written: the gate must see a missing or extra triage
key as it is, and Arrow's JSON builder would give every row every key seen anywhere (as null). The
other formats and hub ids go through `datasets.load_dataset`.

Shapes (auto-detected from the columns, or stated in params):
  triage             report + triage (the gold JSON, an object or a JSON string): the triage task
  messages           chat `messages` [{role, content}, ...] ending with the assistant (HuggingFaceH4/no_robots)
  dolly              instruction + optional context + response (databricks/databricks-dolly-15k)
  prompt_completion  prompt + completion (strings, or lists of chat messages as TRL takes them)
Every shape but triage is the generic task. Output rows: {"id", "messages", ...} with the assistant's
answer last (ftlab/train/ trains on it); triage rows also carry severity and category, generic rows
the source's `category` when it has one (used for the stratified split and the label counts).
"""
import json
from pathlib import Path

from ftlab import triage
from ftlab.io import DataFileError, read_jsonl

SHAPES = {  # shape -> the columns that identify it, in detection order (no_robots also has `prompt`)
    "triage": ("report", "triage"),
    "messages": ("messages",),
    "dolly": ("instruction", "response"),
    "prompt_completion": ("prompt", "completion"),
}
BUILDERS = {".json": "json", ".csv": "csv", ".parquet": "parquet"}
ROLES = ("system", "user", "assistant")


class Reject(Exception):
    """A row the gate refuses: `reason` is a short stable name (a metrics key), `detail` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def load(source) -> tuple[str, list[dict]]:
    """(a name for messages, the raw rows) of params' prepare.source; DataFileError names the file or id."""
    if source.hub:
        return source.hub, _load_hub(source)
    path = Path(source.file)
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
    elif path.suffix in BUILDERS:
        rows = _load_file(path, BUILDERS[path.suffix])
    else:
        raise DataFileError(f"{path}: unknown file type {path.suffix!r}; use .jsonl, .json, .csv or .parquet")
    if not rows:
        raise DataFileError(f"{path}: no rows (empty file)")
    return str(path), rows


def _load_file(path: Path, builder: str) -> list[dict]:
    import datasets

    if not path.is_file():
        raise DataFileError(f"{path}: not found (prepare.source.file)")
    data = path.read_bytes()
    if not data.strip():
        raise DataFileError(f"{path}: no rows (empty file)")
    if builder != "parquet":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    datasets.disable_progress_bars()
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train").to_list()
    except Exception as e:  # the builders wrap the parser's error: report the innermost one
        while e.__cause__ is not None or e.__context__ is not None:
            e = e.__cause__ or e.__context__
        raise DataFileError(f"{path}: not a readable {builder} file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _load_hub(source) -> list[dict]:
    import datasets

    datasets.disable_progress_bars()
    try:
        data = datasets.load_dataset(source.hub, name=source.config, split=source.split, revision=source.revision)
    except Exception as e:
        offline = " (HF_HUB_OFFLINE=1 and not in the local cache: run once with HF_HUB_OFFLINE=0)" if "offline" in str(e).lower() else ""
        raise DataFileError(f"prepare.source.hub {source.hub} (config {source.config}, split {source.split}): "
                            f"cannot be loaded{offline}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return data.to_list()


def columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def shape_of(name: str, rows: list[dict], stated: str) -> str:
    """The stated shape if the columns fit it, else the first shape whose columns are all there."""
    found = columns(rows)
    if stated != "auto":
        missing = [c for c in SHAPES[stated] if c not in found]
        if missing:
            raise DataFileError(f"{name}: prepare.source.shape is {stated} but column(s) {', '.join(missing)} "
                                f"are missing; columns found: {', '.join(found)}")
        return stated
    for shape, needed in SHAPES.items():
        if all(c in found for c in needed):
            return shape
    raise DataFileError(f"{name}: unknown shape, columns found: {', '.join(found)}; expected report+triage, "
                        "messages, instruction+context+response or prompt+completion (or set prepare.source.shape)")


def _text(row: dict, key: str, reason="empty_turn") -> str:
    if key not in row:
        raise Reject("missing_field", f"no {key!r}")
    value = row[key]
    if value is not None and not isinstance(value, str):
        raise Reject("missing_field", f"{key!r} is a {type(value).__name__}, not text")
    if value is None or not value.strip():  # a CSV's empty cell reads as None
        raise Reject(reason, f"{key!r} is empty")
    return value


def _json(value, key: str):
    """A nested column that a CSV (or a careless JSONL) holds as a JSON string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise Reject("bad_json", f"{key!r} is not valid JSON ({e.msg})") from None


def _check_messages(messages) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise Reject("missing_field", "'messages' is not a non-empty list")
    if not all(isinstance(m, dict) for m in messages):
        raise Reject("bad_roles", "a message is not a {role, content} object")
    roles = [m.get("role") for m in messages]
    if any(r not in ROLES for r in roles) or "system" in roles[1:]:
        raise Reject("bad_roles", f"roles {roles}: only system (first), user, assistant")
    if roles[-1] != "assistant" or "user" not in roles:
        raise Reject("bad_roles", f"roles {roles}: needs a user turn and the assistant's answer last")
    for m in messages:
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            raise Reject("empty_turn", f"empty or non-text {m['role']} turn")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def to_chat(row: dict, shape: str, row_id: str, prompt: str = "rubric", order: str = "spec") -> dict:
    """One source row as a chat row, or Reject with the reason. Triage rows get the system prompt
    triage.SYSTEM_PROMPTS[prompt] and an answer with its keys in triage.ORDERS[order]."""
    if shape == "triage":
        report = _text(row, "report", reason="empty_report")
        gold = _json(row.get("triage"), "triage")
        if gold is None:
            raise Reject("missing_field", "no 'triage'")
        errors = triage.validate(gold)
        if errors:
            reason = ("missing_field" if any(e.startswith("missing key") for e in errors) else
                      "wrong_label" if any(e.startswith(("severity", "category")) for e in errors) else
                      "invalid_answer")
            raise Reject(reason, "; ".join(errors))
        return {"id": row_id, "severity": gold["severity"], "category": gold["category"], "messages": [
            *triage.prompt(report, prompt), {"role": "assistant", "content": triage.dumps(gold, order)}]}
    if shape == "messages":
        messages = _check_messages(_json(row.get("messages"), "messages"))
    elif shape == "dolly":
        instruction, response = _text(row, "instruction"), _text(row, "response")
        context = row.get("context") if isinstance(row.get("context"), str) else ""
        user = f"{instruction}\n\n{context}" if context.strip() else instruction
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": response}]
    else:
        prompt, completion = row.get("prompt"), row.get("completion")
        if isinstance(prompt, list) and isinstance(completion, list):  # TRL's conversational form
            messages = _check_messages(prompt + completion)
        else:
            messages = [{"role": "user", "content": _text(row, "prompt")},
                        {"role": "assistant", "content": _text(row, "completion")}]
    chat = {"id": row_id, "messages": messages}
    if isinstance(row.get("category"), str) and row["category"].strip():
        chat["category"] = row["category"].strip()
    return chat


# The responder's step a real training row is answered with. The real records carry labels, the services and a
# one-line rationale, but no next step (data/real/TRAIN.md): one per category, naming the first affected service,
# so the answer is complete JSON under the spec; the labels are what the loss weighs (train_lora.label_weight).
NEXT_ACTIONS = {
    "outage": "Restore {service}: check its health and the most recent change, roll back if needed, and post a status update.",
    "degradation": "Compare {service} latency and error rates with the last change and mitigate; post a status update.",
    "security": "Revoke the exposed credentials or access for {service}, find what was reached, and notify those affected.",
    "data_loss": "Stop the writes that damage {service} data, take a snapshot, and restore what was lost from backup.",
}


def real_answer(record: dict) -> dict:
    """The spec's answer for a labelled real record (data/real/README.md format): its preferred labels and
    services, its rationale (the stated impact, one sentence) as the summary, and its category's next step."""
    services = record["affected_services"][:5]
    answer = {"severity": record["severity"], "category": record["category"], "affected_services": services,
              "summary": record["rationale"].strip()[:300],
              "next_action": NEXT_ACTIONS[record["category"]].format(service=services[0])[:200]}
    errors = triage.validate(answer)
    if errors:
        raise Reject("invalid_answer", "; ".join(errors))
    return answer


def real_to_chat(record: dict, prompt: str, order: str) -> dict:
    """A labelled real record as a triage training row, tagged with its source."""
    for key in ("rationale", "affected_services"):
        if not record.get(key):
            raise Reject("missing_field", f"no {key!r}")
    row = {"id": str(record["id"]), "report": record["report"], "triage": real_answer(record)}
    return {**to_chat(row, "triage", row["id"], prompt, order), "source": "real"}


def row_id(row: dict, index: int) -> str:
    """The source's own id (no_robots calls it prompt_id), else the row's position in the source."""
    for key in ("id", "prompt_id"):
        if row.get(key) is not None and str(row[key]).strip():
            return str(row[key])
    return f"row{index}"


def prompt_text(chat: dict) -> str:
    """What duplicates and leakage are judged on: the user-visible prompt (every turn but the system
    prompt and the answer). The same prompt twice is a contradiction in train and leakage across splits."""
    return "\n".join(m["content"] for m in chat["messages"][:-1] if m["role"] != "system")
