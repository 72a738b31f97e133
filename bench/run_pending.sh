#!/usr/bin/env bash
# The cases the first 0.5B run (RESULTS.md command 1) did not reach, with the seed re-measured in the same
# call, plus the project's default test set in generation (80 prompts of 300-400 tokens, 128 new tokens).
# Fewer rows than run_all.py's lora05x entries, so that all of it runs in about 5 minutes.
# From the repository root of a GPU box: bash bench/run_pending.sh OUT
out=${1:-bench/out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
T="python3 -m bench.train_throughput --json $out/train.json --model 0.5b"
FAST='"padding_free": true, "max_length": null, "per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "activation_checkpointing": false'
{
timeout 75 $T --name 0.5b-lora-seed --rows 240 --skip 3
timeout 100 $T --name 0.5b-lora-pack16k --rows 2048 --attn flex_attention --skip 6 \
  --sft "{$FAST, \"packing\": true, \"packing_strategy\": \"bfd\", \"max_length\": 16384, \"per_device_train_batch_size\": 2, \"padding_free\": false}"
timeout 120 $T --name 0.5b-lora-fast-compile --rows 640 --attn flex_attention --skip 12 --sft "{$FAST, \"torch_compile\": true}"
timeout 100 python3 -m bench.gen_throughput --json $out/gen.json --prompts 80 --len-range 300,400 --tag testset \
  --cases single,sorted80,static80 --single-n 3
} 2>&1 | tee $out/run4_pending.log
