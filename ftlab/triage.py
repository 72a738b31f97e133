"""The triage contract of ../shared/triage-spec.md: labels, validation, parsing, the system prompt.

Everything that reads or writes triage JSON goes through this module, so a change to the spec is a
change here and nowhere else.
"""
import json
import re

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
CATEGORIES = ("outage", "degradation", "security", "data_loss")
KEYS = ("severity", "category", "affected_services", "summary", "next_action")

# The spec's rules as the model is prompted with them, compressed to ~170 tokens: every training and
# evaluation row carries this prefix, and the CPU trains at ~70-140 tokens/s.
SYSTEM_PROMPT = """Triage the incident report. Reply with one JSON object only:
{"severity": "SEV1|SEV2|SEV3|SEV4", "category": "outage|degradation|security|data_loss", "affected_services": [1-5 names from the report], "summary": "1-2 sentences, only stated facts", "next_action": "one concrete step"}
Severity is by impact: SEV1 core service down for most users, or data lost or exposed, or money lost; SEV2 major degradation for many users; SEV3 minor, few users or internal tool, workaround exists; SEV4 no customer impact.
Category: outage = fails outright; degradation = slower or partial errors; security = leak, unauthorized access, compromise; data_loss = data lost or corrupted, no attacker. If several apply: security > data_loss > outage > degradation."""


def validate(obj) -> list[str]:
    """Every way `obj` breaks the spec's output table, as short messages; [] when it conforms."""
    if not isinstance(obj, dict):
        return [f"not a JSON object but {type(obj).__name__}"]
    errors = [f"missing key {k!r}" for k in KEYS if k not in obj]
    errors += [f"unknown key {k!r}" for k in obj if k not in KEYS]
    if "severity" in obj and obj["severity"] not in SEVERITIES:
        errors.append(f"severity {obj['severity']!r} is not one of {', '.join(SEVERITIES)}")
    if "category" in obj and obj["category"] not in CATEGORIES:
        errors.append(f"category {obj['category']!r} is not one of {', '.join(CATEGORIES)}")
    if "affected_services" in obj:
        services = obj["affected_services"]
        if not isinstance(services, list) or not 1 <= len(services) <= 5:
            errors.append("affected_services must be a list of 1-5 strings")
        elif not all(isinstance(s, str) and s.strip() for s in services):
            errors.append("affected_services must hold non-empty strings")
    for key, limit in (("summary", 300), ("next_action", 200)):
        if key in obj:
            value = obj[key]
            if not isinstance(value, str) or not 1 <= len(value.strip()) or len(value) > limit:
                errors.append(f"{key} must be a string of 1-{limit} characters")
    return errors


def parse_strict(text: str):
    """The reply as a conformant triage dict, or None: exactly one JSON object, nothing around it."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return obj if not validate(obj) else None


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
def string_value(field: str) -> re.Pattern:
    """`"<field>": "<value>"` in JSON text, the value (no escapes) as group 1: for replies that do not parse."""
    return re.compile(rf'"{re.escape(field)}"\s*:\s*"([^"\\]*)"')


_LABEL = {field: string_value(field) for field in ("severity", "category")}


def labels_in(text: str) -> dict:
    """The label values a reply wrote, read from its `"severity": "..."` / `"category": "..."` pairs (the first
    of each): for a reply cut off at max_new_tokens before its object closed, which parse_lenient cannot read.
    The spec's keys come first, so the decision is written long before the summary runs out of tokens."""
    return {field: m.group(1) for field, pattern in _LABEL.items() if (m := pattern.search(text))}


def parse_lenient(text: str):
    """The first JSON object in the reply (inside fences or prose), whatever its keys, or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start in (i for i, ch in enumerate(candidate) if ch == "{"):
            try:
                obj, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


# The system prompts a triage row can carry. `rubric` spells the rules out for a model that has not been
# trained on them (the base model, few-shot prompting, Claude); `short` names the task only: a fine-tune
# learns the rules from its training rows, and the rubric's ~200 tokens would be most of every row.
SYSTEM_PROMPTS = {
    "rubric": SYSTEM_PROMPT,
    "short": "Triage the incident report. Reply with one JSON object: severity, category, affected_services, "
             "summary, next_action.",
}
# The order in which a training target writes the spec's keys (the spec leaves it free). `spec` decides
# first; `grounded` restates the report (services, summary) before the decision, so that the tokens the
# labels are generated from already hold the impact (notes/decision.md measures both).
ORDERS = {
    "spec": KEYS,
    "grounded": ("affected_services", "summary", "category", "severity", "next_action"),
}
# Constrained decoding: the string fields whose values must be one of a fixed set (ftlab.eval.generation.EnumValues).
ENUMS = {"severity": SEVERITIES, "category": CATEGORIES}
# The values a fine-tune is trained to write for the labels (train_lora.label_values). `spec`: the spec's own.
# `words`: severity as the word of its rubric line. SEV1-SEV4 are symbols whose digit the pretrained model does not
# connect with impact, and a small fine-tune does not learn that mapping in a CPU budget, while a word is learnt as
# fast as the category (notes/decision.md). The training targets are rewritten (from_spec) and every reply of such
# a model is put back to the spec's values (to_spec) before anything scores or prints it: the outputs of the
# pipeline and of `ftlab predict` conform to the spec either way.
LABEL_VALUES = {
    "spec": {},
    "words": {"severity": {"SEV1": "critical", "SEV2": "major", "SEV3": "minor", "SEV4": "harmless"}},
}


def enums(values: str = "spec") -> dict[str, tuple[str, ...]]:
    """ENUMS as a model trained with `values` writes them (constrained decoding, likelihood scoring)."""
    return {f: tuple(LABEL_VALUES[values].get(f, {}).get(v, v) for v in allowed) for f, allowed in ENUMS.items()}


def _swap(text: str, mappings: dict[str, dict[str, str]]) -> str:
    # Only an exact `"field": "value"` changes, so a reply that did not conform still does not, byte for byte.
    for field, mapping in mappings.items():
        text = re.sub(rf'("{field}"\s*:\s*")({"|".join(map(re.escape, mapping))})(")',
                      lambda m: m.group(1) + mapping[m.group(2)] + m.group(3), text)
    return text


def from_spec(text: str, values: str = "spec") -> str:
    """A spec answer with its label values written as a model trained with `values` writes them."""
    return _swap(text, LABEL_VALUES[values])


def to_spec(text: str, values: str = "spec") -> str:
    """A reply of a model trained with `values`, its label values put back to the spec's."""
    return _swap(text, {f: {w: v for v, w in m.items()} for f, m in LABEL_VALUES[values].items()})


# Chat-template control markers written inside a report (`<|im_end|>`, `<|im_start|>assistant`, `</s>`, `[INST]`,
# `<start_of_turn>`) are tokenized as real turn boundaries, so a pasted report could write the model's answer for
# it. A word joiner (U+2060, invisible) after the marker's first character keeps every character of the report and
# makes the marker plain text to the tokenizer; text without such markers is unchanged byte for byte.
_CONTROL = re.compile(r"<(?=\|)|<(?=/?s>)|\[(?=/?INST\])|<(?=(?:start|end)_of_turn>)|<(?=(?:bos|eos|pad)>)")


def as_text(text: str) -> str:
    """`text` with every chat-template control marker broken by a word joiner: it reaches the model as text."""
    return _CONTROL.sub(lambda m: m.group(0) + "\u2060", text)


def prompt(report: str, style: str = "rubric") -> list[dict]:
    """The chat prompt for one report, the same in training rows, evaluation and `ftlab predict`; the report
    reaches the model as text (as_text)."""
    return [{"role": "system", "content": SYSTEM_PROMPTS[style]}, {"role": "user", "content": as_text(report)}]


def dumps(obj: dict, order: str = "spec") -> str:
    """The canonical serialisation used as the training target: compact, keys in ORDERS[order]."""
    return json.dumps({k: obj[k] for k in ORDERS[order]}, ensure_ascii=False)


def report_of(row: dict) -> str:
    """The report text of a prepared chat row (its user turn) or of a labels row (`report`)."""
    if "messages" in row:
        return next(m["content"] for m in reversed(row["messages"]) if m["role"] == "user")
    return row["report"]
