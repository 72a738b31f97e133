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
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ftlab.errors import FtlabError

PARAMS_FILE = Path("params.yaml")


class ParamsError(FtlabError):
    """A params.yaml problem; the message names the key and says what to write instead. Exit status 2."""

    code = 2


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class BaseModelSpec(Section):
    """Where a base model comes from. `path` means: an embedded model's name, a .gguf file, a
    local directory with config.json and weights, or a hub id (then `revision` pins a commit)."""

    source: Literal["embedded", "gguf", "local", "hub"]
    path: str = Field(min_length=1)
    revision: Optional[str] = None

    @model_validator(mode="after")
    def _hub_needs_revision(self):
        if self.source == "hub" and not (self.revision and re.fullmatch(r"[0-9a-f]{40}", self.revision)):
            raise ValueError(f"source: hub needs `revision` pinned to a commit (40 hex digits), not {self.revision!r}: "
                             "a branch or tag can move under the run, for reproducibility")
        return self


class UsdPerMTok(Section):
    """Prices in US dollars per million tokens, for the estimated cost in the metrics."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)


class Anthropic(Section):
    """Claude client settings (ftlab/data/claude.py), shared by the data backend and the judge. No
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


class PrepareMix(Section):
    """How many training rows each source gives. null: every row; 0: none; N: the first N of a seeded shuffle
    (the same first rows at every N, so the data-scaling curve's subsets are nested). The generated source's
    validation and test splits are kept whatever its share, so the generated test split is always scored."""

    generated: Optional[int] = Field(ge=0)
    real: Optional[int] = Field(ge=0)


class Prepare(Section):
    source: PrepareSource
    gate: PrepareGate
    val_fraction: float = Field(ge=0.0, lt=0.5)
    test_fraction: float = Field(gt=0.0, lt=0.5)
    seed: int
    # Triage rows: the system prompt they are trained with (ftlab.triage.SYSTEM_PROMPTS; the adapter records it,
    # so evaluate and `ftlab predict` prompt the fine-tune the same way) and the order of the answer's keys.
    prompt: Literal["rubric", "short"] = "rubric"
    answer_order: Literal["spec", "grounded"] = "spec"
    # Real incident reports with gold labels (ftlab/data/labels.py; data/real/README.md): the second evaluation split
    # of a triage data set, never trained on; a source row that is a near duplicate of one is refused. Also a
    # dvc.yaml dep (${prepare.real}); a generic data set ignores it.
    real: str = Field(min_length=1)
    # The real development split (data/real/DEV.md): recipes are chosen on it, so it is never trained on either;
    # the gate refuses a training row of any source that copies one of its reports. A dvc.yaml dep.
    dev: str = Field(min_length=1)
    # Real, labelled incident texts to train on (data/real/TRAIN.md), in the record format of `real`: their
    # answers are built from the labels (ftlab.data.sources.real_answer). A dvc.yaml dep; `mix.real: 0` turns it off.
    real_train: str = Field(min_length=1)
    mix: PrepareMix


class FromPretrained(Section):
    """transformers `from_pretrained` keywords the recipe lets a user choose (the rest it sets itself)."""

    attn_implementation: Optional[str] = Field(default=None, min_length=1)  # sdpa | eager | flex_attention | ...

    @field_validator("attn_implementation")
    @classmethod
    def _known_attention(cls, value):
        if value is not None:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

            known = ["eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()]
            if value not in known and not value.startswith("kernels-community/"):  # hub kernels: checked when loaded
                close = difflib.get_close_matches(value, known, n=1)
                raise ValueError(f"{value!r} is not an attention implementation of transformers"
                                 f"{f' (did you mean {close[0]!r}?)' if close else ''}; one of {', '.join(known)}")
        return value


class OnCuda(Section):
    """Overrides merged key by key over `model`, `sft` and `bnb` when CUDA is available, so one
    params.yaml holds the CPU budget and the GPU's fast settings (docs/gpu.md "GPU profile")."""

    max_train_rows: Optional[int] = Field(default=None, ge=1)  # null: every row (when written)
    max_val_rows: Optional[int] = Field(default=None, ge=1)
    model: FromPretrained = FromPretrained()
    sft: dict[str, Any] = {}
    bnb: Optional[dict[str, Any]] = None


class Train(Section):
    base_model: BaseModelSpec
    max_train_rows: Optional[int] = Field(default=None, ge=1)
    max_val_rows: Optional[int] = Field(default=None, ge=1)
    model: FromPretrained = FromPretrained()
    # QLoRA: PEFT's prepare_model_for_kbit_training upcasts every non-4-bit weight (embeddings, LM head,
    # norms) to float32. false keeps them in the loading dtype (bf16 on CUDA; float32 on a CPU anyway):
    # on a 7B 2.5 GiB less, a faster LM head, and what FSDP needs (one dtype per sharded group).
    kbit_upcast: bool = True
    # Long rows: each layer's MLP runs (and is recomputed in backward) this many tokens at a time
    # (ftlab.train.patches.chunk_mlps); exact, and no effect on rows up to this length. null: off.
    mlp_chunk_tokens: Optional[int] = Field(default=None, ge=1)
    # The loss weight of the label fields' value tokens (severity, category) against the answer's other
    # tokens (ftlab.train.recipe.LabelWeights); 1 is plain SFT.
    label_weight: float = Field(default=1.0, ge=1.0, le=1000.0)
    # The values the fine-tune is trained to write for the labels (ftlab.triage.LABEL_VALUES): spec (SEV1-SEV4) or
    # words (severity as critical / major / minor / harmless, put back to SEV1-SEV4 on every reply it gives).
    label_values: Literal["spec", "words"] = "spec"
    lora: dict[str, Any]
    sft: dict[str, Any]
    bnb: Optional[dict[str, Any]] = None
    on_cuda: Optional[OnCuda] = None
    # `accelerate launch` keywords (its --flags without the dashes). num_processes > 1 re-runs the stage
    # under `accelerate launch` (docs/gpu.md "Several GPUs"); absent or 1: one plain process.
    launch: Optional[dict[str, Any]] = None

    def for_device(self, cuda: bool) -> "Train":
        """These params as the run on this device sees them: on_cuda merged over model/sft/bnb on CUDA."""
        if not cuda or self.on_cuda is None:
            return self
        o = self.on_cuda
        rows = {k: getattr(o, k) for k in ("max_train_rows", "max_val_rows") if k in o.model_fields_set}
        return self.model_copy(update={
            **rows,
            "model": self.model.model_copy(update=o.model.model_dump(exclude_unset=True)),
            "sft": {**self.sft, **o.sft},
            "bnb": {**self.bnb, **o.bnb} if self.bnb is not None and o.bnb else self.bnb,
        })

    @property
    def num_processes(self) -> int:
        return int((self.launch or {}).get("num_processes") or 1)


def launch_argv(where: str, launch: dict) -> list[str]:
    """`accelerate launch` arguments for a params `launch:` mapping, checked by accelerate's own parser."""
    from accelerate.commands.launch import launch_command_parser

    parser = launch_command_parser()
    # Not choices of a training run: what to launch (the stage) and where the rest of the settings come from.
    actions = {a.dest: a for a in parser._actions if a.option_strings
               and a.dest not in ("help", "config_file", "module", "no_python", "cpu", "use_cpu")}
    argv = []
    for key, value in launch.items():
        action = actions.get(key)
        if action is None:
            close = difflib.get_close_matches(key, actions, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamsError(f"{where}.{key}: not an `accelerate launch` option{hint}")
        if action.nargs == 0:  # a switch (accelerate has its own store-true action class)
            if not isinstance(value, bool):
                raise ParamsError(f"{where}.{key}: a switch: write true or false, not {value!r}")
            argv += [action.option_strings[0]] if value else []
        elif isinstance(value, (dict, list)) or value is None:
            raise ParamsError(f"{where}.{key}: expected one value, got {value!r}")
        else:
            argv += [action.option_strings[0], str(value).lower() if isinstance(value, bool) else str(value)]

    def fail(message):
        raise ParamsError(f"{where}: {message}")

    parser.error = fail  # argparse would print usage and exit; name the section instead
    parsed = parser.parse_args([*argv, "stage.py"])
    if parsed.num_processes is not None and parsed.num_processes < 1:
        raise ParamsError(f"{where}.num_processes: {parsed.num_processes} is out of range [1, inf]")
    if (parsed.num_processes or 1) > 1 and not any(launch.get(k) for k in ("multi_gpu", "use_fsdp", "use_deepspeed")):
        # accelerate turns DDP on by itself only with several GPUs visible; otherwise it runs one plain process,
        # which would see num_processes > 1 and launch the stage again
        raise ParamsError(f"{where}: num_processes {parsed.num_processes} needs multi_gpu: true (DDP, also on a CPU "
                          "with gloo) or use_fsdp: true")
    if (parsed.num_processes or 1) == 1 and set(launch) - {"num_processes"}:
        raise ParamsError(f"{where}: {', '.join(sorted(set(launch) - {'num_processes'}))} would be ignored: the stage "
                          "runs one plain process unless num_processes is 2 or more")
    return argv


class AnthropicJudge(Anthropic):
    """evaluate.judge.anthropic: read only when the judge's backend is anthropic (ftlab/eval/judge.py).
    Pin `model` to a dated snapshot: an alias may move to a new model under the scores."""

    max_tokens: int = Field(ge=64, le=4096)  # per verdict: {"score": n, "reason": "..."}


class Judge(WithBackend):
    """evaluate.judge: who scores `faithfulness`: the offline deterministic judge (ftlab/eval/metrics.py)
    or Claude against a written rubric (ftlab/eval/judge.py)."""

    backend: Literal["offline", "anthropic"]
    anthropic: Optional[AnthropicJudge] = None


class Evaluate(Section):
    max_rows: Optional[int] = Field(default=None, ge=1)
    # Constrained decoding of the label fields (ftlab.eval.generation.EnumValues): severity and category can only be
    # written as one of the spec's values, in every variant.
    constrained: bool = True
    max_new_tokens: int = Field(ge=8, le=4096)
    # Triage: a reply whose first this many non-space characters hold no `{` is stopped (generation.NoJsonStart);
    # null decodes every reply to max_new_tokens.
    json_within: Optional[int] = Field(default=None, ge=8)  # "```json {" is 7 characters before its brace
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
# The keys both training stages share, written once: each train stage's section is merged over this one (mappings
# key by key, any other value replaced), so `train.sft.seed` sets both and `train_qlora.sft.seed` one.
SHARED, TRAIN_STAGES = "train", ("train_lora", "train_qlora")


def merged(base: dict, over: dict) -> dict:
    """`over` merged into `base`: mappings key by key, recursively; any other value of `over` replaces."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def raw_section(stage: str, data: dict):
    """The section `stage` of a read params mapping as the stage sees it: a train stage's merged over `train:`."""
    section = data.get(stage)
    if stage in TRAIN_STAGES and isinstance(section, dict) and isinstance(data.get(SHARED), dict):
        return merged(data[SHARED], section)
    return section


def _origin(stage: str, data: dict, message: str) -> str:
    """A train stage's error names `train_lora.sft.x`; where `x` was written in the shared section alone, say so."""
    key = message.split(":", 1)[0]
    if stage not in TRAIN_STAGES or not key.startswith(f"{stage}.") or not isinstance(data.get(SHARED), dict):
        return message
    path = key.split(".")[1:]

    def has(node, parts):
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    if has(data.get(stage), path) or not has(data[SHARED], path):
        return message
    return f"{SHARED}.{'.'.join(path)}{message[len(key):]} (read by {stage})"

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
    # Values the library takes without a word and fails on later (eval_steps 0: a ZeroDivisionError at the first
    # step; a negative save_steps or save_total_limit: checkpoints that never come, or every one deleted).
    "eval_steps": (1e-9, None),
    "save_steps": (1e-9, None),
    "save_total_limit": (1, None),
    "eval_accumulation_steps": (1, None),
    "max_grad_norm": (0, None),
    "dataloader_num_workers": (0, None),
    "seed": (0, 2**32 - 1),
    "adam_epsilon": (0, None),
}
# Ranges with an open upper end: torch's Adam refuses beta 1 only when it builds the optimizer, after the model loads.
_BELOW = {"adam_beta1": (0, 1), "adam_beta2": (0, 1)}
# SFTConfig keywords that ftlab refuses, with what to write instead.
_REFUSED = {
    "gradient_checkpointing": "a deprecated alias that transformers ignores when activation_checkpointing is set "
                              "(params.yaml sets it): write activation_checkpointing",
    "gradient_checkpointing_kwargs": "write activation_checkpointing_kwargs",
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


def _enums(annotation) -> list[type]:
    """The Enum classes inside an annotation such as `Union[SchedulerType, str]` or `Optional[list[FSDPOption]]`."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [annotation]
    return [e for a in typing.get_args(annotation) for e in _enums(a)]


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
        if key in _REFUSED and cls.__name__ in ("SFTConfig", "TrainingArguments"):
            raise ParamsError(f"{where}.{key}: {_REFUSED[key]}")
        if not _accepts(fields[key], value):
            raise ParamsError(f"{where}.{key}: {value!r} does not fit the type {fields[key]}")
        # `Union[SchedulerType, str]` takes any string by its annotation, and the library refuses a typo only when
        # the stage builds it: check the string (each of its space-separated options) against the enum's values.
        if isinstance(value, str) and (enums := _enums(fields[key])):
            allowed = [m.value for e in enums for m in e if isinstance(m.value, str)]
            wrong = [v for v in value.split() if v not in allowed and not any(v in e.__members__ for e in enums)]
            if allowed and wrong:
                close = difflib.get_close_matches(wrong[0], allowed, n=1)
                raise ParamsError(f"{where}.{key}: {wrong[0]!r} is not one of {', '.join(allowed)}"
                                  f"{f' (did you mean {close[0]!r}?)' if close else ''}")
        if isinstance(value, float) and not math.isfinite(value):  # NaN compares False with every bound
            raise ParamsError(f"{where}.{key}: {value!r} is not a finite number")
        low, high = _RANGES.get(key, (None, None))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if low is not None and value < low or high is not None and value > high:
                raise ParamsError(f"{where}.{key}: {value!r} is out of range [{low}, {high or 'inf'}]")
            if key in _BELOW and not _BELOW[key][0] <= value < _BELOW[key][1]:
                raise ParamsError(f"{where}.{key}: {value!r} is out of range [{_BELOW[key][0]}, {_BELOW[key][1]})")


def _format_pydantic(stage: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in (stage, *e["loc"]))
        msg = "unknown key (not read by any stage): remove it" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key written twice in one mapping is an error (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: PyYAML merges it (an override is no duplicate)
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise ParamsError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}: keep one")
                seen.add(key)
            except TypeError:
                raise ParamsError(f"a key that is a list or mapping at line {key_node.start_mark.line + 1}") from None
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path = PARAMS_FILE) -> dict:
    if not path.exists():
        raise ParamsError(f"{path}: not found; run the stage from the repository root")
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    except ParamsError as e:
        raise ParamsError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of stage sections")
    known = [*SECTIONS, SHARED]
    unknown = sorted(set(data) - set(known))
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamsError(f"{path}: unknown section {unknown[0]!r}{hint}; sections are {', '.join(known)}")
    if SHARED in data and not isinstance(data[SHARED], dict):
        raise ParamsError(f"{path}: `{SHARED}:` must be a mapping of the keys both training stages share")
    return data


def parse(stage: str, data: dict):
    """The validated section `stage` of an already-read params mapping (a train stage's merged over `train:`)."""
    if stage not in data:
        raise ParamsError(f"section {stage!r} is missing")
    try:
        return _parse(stage, raw_section(stage, data))
    except ParamsError as e:
        raise ParamsError(_origin(stage, data, str(e))) from None


def _parse(stage: str, raw):
    try:
        section = SECTIONS[stage].model_validate(raw)
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
        if section.on_cuda is not None:
            check_library_section(f"{stage}.on_cuda.sft", section.on_cuda.sft, SFTConfig, reserved=("output_dir", "use_cpu"))
            if section.on_cuda.bnb is not None:
                if section.bnb is None:
                    raise ParamsError(f"{stage}.on_cuda.bnb: there is no `bnb:` section to override (LoRA); remove it")
                check_library_section(f"{stage}.on_cuda.bnb", section.on_cuda.bnb, BitsAndBytesConfig)
        _check_built(stage, section)
        if section.launch is not None:
            launch_argv(f"{stage}.launch", section.launch)
            optim = str(section.for_device(True).sft.get("optim", ""))
            bnb_optim = "bnb" in optim or "8bit" in optim or "32bit" in optim or optim.startswith("paged_")
            if section.launch.get("use_fsdp") and bnb_optim:  # seen on two H200s (bench/RESULTS.md)
                raise ParamsError(f"{stage}.sft.optim: {optim} cannot update FSDP's sharded parameters (a bitsandbytes optimizer "
                                  "refuses DTensors); with launch.use_fsdp write optim: adamw_torch")
    return section


def _check_built(stage: str, section: "Train") -> None:
    """What the libraries check only when the stage builds their configs (after the data and often the model
    have loaded), and what they accept but do not do: checked here for the CPU's and the CUDA's view."""
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig

    try:
        LoraConfig(**section.lora)
    except (ValueError, TypeError) as e:
        raise ParamsError(f"{stage}.lora: {e}") from None
    for cuda in (False, True):
        p = section.for_device(cuda)
        where = f"{stage}{'.on_cuda' if cuda and section.on_cuda is not None else ''}"
        if p.bnb is not None:
            if [bool(p.bnb.get("load_in_4bit")), bool(p.bnb.get("load_in_8bit"))].count(True) != 1:
                raise ParamsError(f"{where}.bnb: set load_in_4bit: true (QLoRA); an empty or all-false bnb section "
                                  "would not quantize as it says (or quantize when it says not to)")
            for key in ("bnb_4bit_compute_dtype", "bnb_4bit_quant_storage"):
                value = p.bnb.get(key)
                if isinstance(value, str) and value not in ("float32", "bfloat16", "float16", "uint8"):
                    raise ParamsError(f"{where}.bnb.{key}: {value!r} is not a torch dtype name; write bfloat16, "
                                      "float16 or float32")
            if p.bnb.get("bnb_4bit_quant_type", "nf4") not in ("nf4", "fp4"):
                raise ParamsError(f"{where}.bnb.bnb_4bit_quant_type: {p.bnb['bnb_4bit_quant_type']!r} must be nf4 or fp4")
            try:
                BitsAndBytesConfig(**p.bnb)
            except (ValueError, TypeError, AttributeError) as e:
                raise ParamsError(f"{where}.bnb: {e}") from None
        if p.sft.get("fp16") and p.sft.get("bf16"):
            raise ParamsError(f"{where}.sft: fp16 and bf16 are both true; keep one")
        report_to = p.sft.get("report_to")
        targets = [report_to] if isinstance(report_to, str) else report_to or []
        if "dvclive" in targets or "all" in targets:
            raise ParamsError(f"{where}.sft.report_to: the stage logs to dvclive/{stage} itself; a second dvclive logger "
                              f"{'(all includes it) ' if 'all' in targets else ''}would rewrite dvc.yaml: "
                              "name the others, e.g. [wandb, tensorboard]")
    if stage == "train_lora" and "max_length" in section.sft and section.sft["max_length"] is None:
        raise ParamsError(f"{stage}.sft.max_length: null is not supported here: prepare refuses rows longer than it; "
                          "give a number of tokens")


def load(stage: str, path: Path = PARAMS_FILE):
    """Validated params for `stage`; a problem is a ParamsError that names the file and the key (exit status 2)."""
    try:
        return parse(stage, read_yaml(path))
    except ParamsError as e:
        if str(e).startswith(str(path)):
            raise
        raise ParamsError(f"{path}: {e}") from None
