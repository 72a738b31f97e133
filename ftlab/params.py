"""Typed, validated params.yaml: every stage calls `load(stage)` first.

Our own sections are pydantic models that forbid unknown keys. The `lora:`, `sft:` and `bnb:`
sections use the libraries' own keyword names and are splatted into peft.LoraConfig,
trl.SFTConfig and transformers.BitsAndBytesConfig; they are checked against those classes' own
fields and annotations first, so that a typo or a `2e-4` (which YAML reads as a string) stops the
stage with the key's name instead of a deep traceback or a silently ignored kwarg.
"""
import dataclasses
import difflib
import enum
import inspect
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PARAMS_FILE = Path("params.yaml")


class ParamsError(Exception):
    """A params.yaml problem; the message names the key and says what to write instead."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BaseModelSpec(Section):
    """Where a base model comes from. `path` means: an embedded model's name, a .gguf file, a
    local directory with config.json and weights, or a hub id (then `revision` pins a commit)."""

    source: Literal["embedded", "gguf", "local", "hub"]
    path: str = Field(min_length=1)
    revision: Optional[str] = None

    @model_validator(mode="after")
    def _hub_needs_revision(self):
        if self.source == "hub" and not self.revision:
            raise ValueError("source: hub needs `revision` pinned to a commit, for reproducibility")
        return self


class UsdPerMTok(Section):
    """Prices in US dollars per million tokens, for the estimated cost in the metrics."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)


class Anthropic(Section):
    """Claude client settings (ftlab/claude.py), shared by the data backend and the judge. No
    temperature: the pinned SDK's Messages.create has no sampling parameters."""

    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=64, le=32_000)
    concurrency: int = Field(ge=1, le=64)
    max_retries: int = Field(ge=0, le=20)  # the SDK's own retries
    timeout_s: float = Field(gt=0, le=3600)
    usd_per_mtok: UsdPerMTok


class AnthropicData(Anthropic):
    """generate_data.anthropic: read only when backend is anthropic."""

    mode: Literal["generate", "label"]
    reports: str = Field(min_length=1)  # label mode: a JSONL of {"report": ...}; also a dvc.yaml dep
    rows_per_request: int = Field(ge=1, le=50)  # generate mode


class WithBackend(Section):
    """A section whose `backend: anthropic` needs its `anthropic:` subsection."""

    @model_validator(mode="after")
    def _anthropic_needs_its_section(self):
        if self.backend == "anthropic" and self.anthropic is None:
            raise ValueError("backend: anthropic needs the `anthropic:` subsection (see params.yaml)")
        return self


class GenerateData(WithBackend):
    backend: Literal["template", "anthropic"]
    n_rows: int = Field(ge=16, le=1_000_000)
    seed: int
    anthropic: Optional[AnthropicData] = None


class PrepareSource(Section):
    """Where prepare's rows come from: the local file `file` (also dvc.yaml's dep `${prepare.source.file}`)
    or, when `hub` is set, that Hugging Face dataset (config, split, revision) instead."""

    file: str = Field(min_length=1)
    hub: Optional[str] = Field(default=None, min_length=1)
    config: Optional[str] = None
    split: str = Field(default="train", min_length=1)
    revision: Optional[str] = None
    shape: Literal["auto", "triage", "messages", "dolly", "prompt_completion"] = "auto"


class PrepareGate(Section):
    # Below ~0.5 the LSH proposes most pairs of ordinary text and dedup heads towards all pairs (n^2).
    near_duplicate_threshold: float = Field(ge=0.5, le=1.0)
    shingle_size: int = Field(ge=2, le=32)


class Prepare(Section):
    source: PrepareSource
    gate: PrepareGate
    val_fraction: float = Field(ge=0.0, lt=0.5)
    test_fraction: float = Field(gt=0.0, lt=0.5)
    seed: int


class Train(Section):
    base_model: BaseModelSpec
    max_train_rows: Optional[int] = Field(default=None, ge=1)
    max_val_rows: Optional[int] = Field(default=None, ge=1)
    lora: dict[str, Any]
    sft: dict[str, Any]
    bnb: Optional[dict[str, Any]] = None


class AnthropicJudge(Anthropic):
    """evaluate.judge.anthropic: read only when the judge's backend is anthropic (ftlab/judge.py).
    Pin `model` to a dated snapshot: an alias may move to a new model under the scores."""

    max_tokens: int = Field(ge=64, le=4096)  # per verdict: {"score": n, "reason": "..."}


class Judge(WithBackend):
    """evaluate.judge: who scores `faithfulness`: the offline deterministic judge (ftlab/metrics.py)
    or Claude against a written rubric (ftlab/judge.py)."""

    backend: Literal["offline", "anthropic"]
    anthropic: Optional[AnthropicJudge] = None


class Evaluate(Section):
    max_rows: Optional[int] = Field(default=None, ge=1)
    max_new_tokens: int = Field(ge=8, le=4096)
    batch_size: int = Field(ge=1, le=1024)
    few_shot_k: int = Field(ge=0, le=32)
    probe_max_new_tokens: int = Field(ge=8, le=1024)
    judge: Judge


class Report(Section):
    n_examples: int = Field(ge=0, le=50)


SECTIONS = {
    "generate_data": GenerateData,
    "prepare": Prepare,
    "train_lora": Train,
    "train_qlora": Train,
    "evaluate": Evaluate,
    "report": Report,
}

# Range rules for library keys whose annotation alone (int, float) lets nonsense through.
_RANGES = {
    "r": (1, None),
    "lora_alpha": (1e-9, None),
    "lora_dropout": (0, 0.999),
    "learning_rate": (1e-12, 1.0),
    "num_train_epochs": (1e-9, None),
    "per_device_train_batch_size": (1, None),
    "per_device_eval_batch_size": (1, None),
    "gradient_accumulation_steps": (1, None),
    "warmup_steps": (0, None),
    "max_length": (16, None),
    "logging_steps": (1e-9, None),
    "weight_decay": (0, None),
}


def _accepts(annotation, value) -> bool:
    """Does a YAML value fit a library's type annotation? Unknown annotations accept anything."""
    origin = typing.get_origin(annotation)
    if annotation in (Any, inspect.Parameter.empty) or isinstance(annotation, typing.TypeVar):
        return True
    if annotation is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin in (list, tuple, set) or annotation in (list, tuple, set):
        args = typing.get_args(annotation)
        return isinstance(value, list) and (not args or all(_accepts(args[0], v) for v in value))
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return value in {m.value for m in annotation} or value in annotation.__members__
    return True


def _library_fields(cls) -> dict[str, Any]:
    """name -> annotation of every keyword `cls(...)` takes: its __init__ parameters (typed by their
    annotation, else by their default's type) and, for dataclasses, their annotated fields."""
    fields = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            fields[name] = p.annotation if p.annotation is not p.empty else (
                type(p.default) if p.default not in (None, p.empty) else Any)
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        fields.update({f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init})
    return fields


def check_library_section(where: str, section: dict, cls, reserved=()) -> None:
    """Fail on unknown keys, wrong types and out-of-range values of a splatted section."""
    if not isinstance(section, dict):
        raise ParamsError(f"{where}: expected a mapping of {cls.__name__} keywords")
    fields = _library_fields(cls)
    for key, value in section.items():
        if key in reserved:
            raise ParamsError(f"{where}.{key}: set by the stage itself (fixed path or device); remove it")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamsError(f"{where}.{key}: not a {cls.__name__} keyword{hint}")
        if isinstance(value, str) and fields[key] in (float, int):
            raise ParamsError(
                f"{where}.{key}: expected a number, got the string {value!r} "
                "(YAML reads 2e-4 as a string: write 2.0e-4)"
            )
        if not _accepts(fields[key], value):
            raise ParamsError(f"{where}.{key}: {value!r} does not fit the type {fields[key]}")
        low, high = _RANGES.get(key, (None, None))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if low is not None and value < low or high is not None and value > high:
                raise ParamsError(f"{where}.{key}: {value!r} is out of range [{low}, {high or 'inf'}]")


def _format_pydantic(stage: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in (stage, *e["loc"]))
        msg = "unknown key (not read by any stage): remove it" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def read_yaml(path: Path = PARAMS_FILE) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: not found; run the stage from the repository root")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of stage sections")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], SECTIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamsError(f"{path}: unknown section {unknown[0]!r}{hint}; sections are {', '.join(SECTIONS)}")
    return data


def parse(stage: str, data: dict):
    """The validated section `stage` of an already-read params mapping."""
    if stage not in data:
        raise ParamsError(f"section {stage!r} is missing")
    try:
        section = SECTIONS[stage].model_validate(data[stage])
    except ValidationError as e:
        raise ParamsError(_format_pydantic(stage, e)) from None
    if isinstance(section, Train):
        from peft import LoraConfig
        from transformers import BitsAndBytesConfig
        from trl import SFTConfig

        check_library_section(f"{stage}.lora", section.lora, LoraConfig)
        check_library_section(f"{stage}.sft", section.sft, SFTConfig, reserved=("output_dir", "use_cpu"))
        if section.bnb is not None:
            check_library_section(f"{stage}.bnb", section.bnb, BitsAndBytesConfig)
    return section


def load(stage: str, path: Path = PARAMS_FILE):
    """Validated params for `stage`; on a problem, one clear line on stderr and exit status 2."""
    try:
        return parse(stage, read_yaml(path))
    except ParamsError as e:
        message = str(e) if str(e).startswith(str(path)) else f"{path}: {e}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
