"""Shared pieces of the GPU benchmarks: random-weight Qwen2.5 models built from config, synthetic
pre-tokenized rows, a stub tokenizer (no hub), FLOP counts for MFU, and the results file.

Nothing here downloads anything: the models are Qwen2Config architectures with random weights
(throughput does not depend on weight values) and the rows are token ids drawn from a Zipf law.
"""
import json
import math
import os
import time
from pathlib import Path

import torch

# H200 SXM dense bf16 peak from the datasheet (no sparsity). MFU below is always against this number;
# the measured bf16 matmul ceiling on these machines is ~790 TFLOP/s (KINDS.md), i.e. MFU/0.80.
PEAK_FLOPS = 989e12
PAD_ID = 151643  # Qwen2.5's <|endoftext|>, also its pad token

CONFIGS = {
    "0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                 intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
               intermediate_size=18944, vocab_size=152064, tie_word_embeddings=False),
    # CPU smoke tests only
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128, vocab_size=151936, tie_word_embeddings=True),
}


def qwen_config(size: str, attn: str = "sdpa"):
    from transformers import Qwen2Config

    c = CONFIGS[size]
    cfg = Qwen2Config(**c, max_position_embeddings=131072, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
                      hidden_act="silu", bos_token_id=151643, eos_token_id=151645, pad_token_id=PAD_ID,
                      use_sliding_window=False, initializer_range=0.02)
    cfg._attn_implementation = attn
    return cfg


def matmul_params(size: str) -> int:
    """Weights that take part in a matmul per token: every Linear of the decoder layers plus the LM head
    (counted even when tied to the embedding; the embedding lookup itself is no matmul)."""
    c = CONFIGS[size]
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = h // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * i
    return per_layer * c["num_hidden_layers"] + h * v


def train_mfu(size: str, tokens_per_s: float) -> float:
    """LoRA/QLoRA: forward 2N + backward through the frozen weights to the activations 2N = 4N FLOPs per
    token (no weight gradients for the frozen base; adapter FLOPs, attention scores and any activation
    recomputation are not counted: model FLOPs, not hardware FLOPs)."""
    return 4 * matmul_params(size) * tokens_per_s / PEAK_FLOPS


def gen_mfu(size: str, tokens_processed_per_s: float) -> float:
    """Generation: 2N FLOPs per token processed (prompt tokens in prefill + new tokens in decode)."""
    return 2 * matmul_params(size) * tokens_processed_per_s / PEAK_FLOPS


def stub_tokenizer():
    """A tokenizer with only the pad/eos token: the data is already token ids, TRL needs pad/eos ids."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel({"<unk>": 0, "<|endoftext|>": PAD_ID}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def row_lengths(n: int, median: int = 300, sigma: float = 0.5, lo: int = 32, hi: int = 1024, seed: int = 0,
                fixed: int | None = None) -> list[int]:
    if fixed:
        return [fixed] * n
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator=g, dtype=torch.float64)
    return [int(min(hi, max(lo, round(math.exp(math.log(median) + sigma * float(x)))))) for x in z]


def zipf_tokens(total: int, seed: int, vocab: int = 32000, s: float = 1.1) -> torch.Tensor:
    """Token ids with a Zipf law over the first `vocab` ids (not uniform, so there is something to learn)."""
    g = torch.Generator().manual_seed(seed)
    ranks = torch.arange(1, vocab + 1, dtype=torch.float64)
    p = ranks.pow(-s)
    p /= p.sum()
    ids = torch.multinomial(p, total, replacement=True, generator=g) + 1  # never 0, never the pad id
    return ids


def train_rows(n: int, seed: int = 0, fixed: int | None = None, median: int = 300):
    """A `datasets.Dataset` of pre-tokenized rows: input_ids + completion_mask (the last third of each row
    is the 'answer', as the project's prompt/completion rows train on the answer only)."""
    from datasets import Dataset

    lengths = row_lengths(n, median=median, seed=seed, fixed=fixed, hi=max(1024, fixed or 0))
    ids = zipf_tokens(sum(lengths), seed + 1).tolist()
    rows, at = {"input_ids": [], "completion_mask": []}, 0
    for L in lengths:
        c = max(1, L // 3)
        rows["input_ids"].append(ids[at:at + L])
        rows["completion_mask"].append([0] * (L - c) + [1] * c)
        at += L
    return Dataset.from_dict(rows), sum(lengths)


def build_model(size: str, attn: str = "sdpa", device: str = "cuda", dtype=torch.bfloat16, seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(qwen_config(size, attn), dtype=dtype)
    return model


def _ckpt_dir() -> str:
    if os.environ.get("BENCH_CKPT"):
        return os.environ["BENCH_CKPT"]
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 40 * 2**30:
            return "/dev/shm/bench-ckpt"
    except OSError:
        pass
    return "/tmp/bench-ckpt"


def quantized_model(size: str, bnb: dict, attn: str = "sdpa", cache: str | None = None):
    """A 4-bit model: random bf16 weights are built on the GPU once, saved, and re-loaded through
    BitsAndBytesConfig, which is how a real checkpoint gets quantized."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    path = Path(cache or _ckpt_dir()) / f"qwen2.5-{size}-random"
    if not (path / "config.json").is_file():
        t = time.perf_counter()
        m = build_model(size, "sdpa", device="cuda" if torch.cuda.is_available() else "cpu")
        m.save_pretrained(path)
        del m
        torch.cuda.empty_cache()
        print(f"built and saved random {size} in {time.perf_counter() - t:.0f}s", flush=True)
    kwargs = dict(bnb)
    for key in ("bnb_4bit_compute_dtype", "bnb_4bit_quant_storage"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = getattr(torch, kwargs[key])
    device = torch.cuda.current_device() if torch.cuda.is_available() else "cpu"  # one GPU per launched process
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=BitsAndBytesConfig(**kwargs),
                                                dtype=torch.bfloat16, attn_implementation=attn,
                                                device_map={"": device})


def append_json(path: str, record: dict):
    p = Path(path)
    data = json.loads(p.read_text()) if p.is_file() else []
    data = [r for r in data if r.get("name") != record.get("name")] + [record]
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1) + "\n")


def versions() -> dict:
    import importlib

    out = {"torch": torch.__version__}
    for m in ("transformers", "trl", "peft", "datasets", "bitsandbytes", "accelerate", "liger_kernel"):
        try:
            mod = importlib.import_module(m)
            out[m] = getattr(mod, "__version__", "?")
        except Exception as e:  # noqa: BLE001 - report what is there
            out[m] = f"missing ({type(e).__name__})"
    out["transformers_file"] = str(Path(importlib.import_module("transformers").__file__).parent)
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def fmt_table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    """cols: (key, header, format)."""
    head = "| " + " | ".join(h for _, h, _ in cols) + " |"
    sep = "| " + " | ".join("---" for _ in cols) + " |"
    lines = [head, sep]
    for r in rows:
        cells = []
        for k, _, f in cols:
            v = r.get(k)
            cells.append("-" if v is None else (format(v, f) if f and isinstance(v, (int, float)) else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")
