#!/usr/bin/env bash
# Issue 6 (two GPUs of one host) and issue 9's memory follow-up, by part:
# Parts (second argument, comma-separated; default all):
#   stage1, stage2: ftlab's own recipe (bench/stage_gpu.py: params.yaml's on_cuda profile, 16 rows per GPU) on
#      1 GPU, and under its launch: path with DDP on 2 GPUs;
#   stageq: ftlab's own recipe for QLoRA under launch: with FSDP2 on 2 GPUs (0.5B, 128 rows), adapter saved and checked
#   lora1, lora2: the 0.5B LoRA at the profile's settings on 1 GPU and on 2 (scaling), and on 2 at 1 GPU's global batch
#   qlora1, qlora2: 7B QLoRA, rows of 2048, 2 per GPU: 1 GPU, and FSDP2 over 2 GPUs (per-GPU peak memory)
#   qlora1b: the 1-GPU 7B layout of qlora1 at 4 and 8 rows of 2048 per step (issue 9's 12,000 tokens/s goal)
#   long9: 7B QLoRA one row of 65,536 / 98,304 / 131,072 tokens with mlp_chunk_tokens 4096; the shipped 7B profile
#   speed9: 0.5B LoRA at 256 rows a step: Liger kernels, length-grouped padded sdpa, one profiled case
#   speed9b: the same with no float32 copy of each LoRA input (what ftlab/train.py does under autocast), 7B shipped + Liger
#   stage1s4: stage1 again with this session's params.yaml (Liger on) and ftlab/train.py (no input copies)
#   curve9: 0.5B loss against rows trained on, same 8,192 rows: the seed's 16 rows a step (two seeds) vs 256 and 128 rows
#      a step at several lrs (~13 min: split it over two calls with run_all.py --only)
#   mem: 7B QLoRA long rows with TRL's LM head in chunks of 4,096 tokens (TRL's _CHUNKED_LOGPROB_CHUNK_SIZE)
# From the repository root of a GPU box: bash bench/run_multi.sh OUT [PARTS]
out=${1:-bench/out}; parts=${2:-all}; mkdir -p "$out"
# NVLink multicast stays off (NCCL_NVLS_ENABLE=0): on some hosts it takes the GPUs out of service.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
S="timeout 150 python3 -m bench.stage_gpu --json $out/stage.json"
{
python3 -c 'import torch; print("GPUs:", torch.cuda.device_count(), torch.cuda.get_device_name(0))'
has() { [[ ,$parts, == *,$1,* || $parts == all ]]; }
has stage1 && $S --name 0.5b-lora-stage-1gpu
has stage2 && $S --name 0.5b-lora-stage-ddp-2gpu --set launch.num_processes=2 --set launch.multi_gpu=true \
     --set launch.main_process_port=29518
# ftlab's own FSDP2 + QLoRA path (the 0.5B, so that it is quick): the stage's collective adapter save
has stageq && $S --name 0.5b-qlora-stage-fsdp-2gpu --stage train_qlora --set on_cuda.max_train_rows=128 \
     --set on_cuda.sft.num_train_epochs=1 --set on_cuda.sft.optim=adamw_torch --set bnb.bnb_4bit_quant_storage=bfloat16 --set launch.num_processes=2 \
     --set launch.use_fsdp=true --set launch.fsdp_version=2 --set launch.fsdp_auto_wrap_policy=TRANSFORMER_BASED_WRAP \
     --set launch.fsdp_transformer_layer_cls_to_wrap=Qwen2DecoderLayer --set launch.fsdp_cpu_ram_efficient_loading=false \
     --set launch.main_process_port=29519
has lora1 && python3 -m bench.run_all --groups multi --only 0.5b-lora-pad16-1gpu --out "$out" --timeout 120
has lora2 && python3 -m bench.run_all --groups multi --only 0.5b-lora-pad16-ddp-2gpu,0.5b-lora-pad8-ddp-2gpu --out "$out" --timeout 120
has qlora1 && python3 -m bench.run_all --groups multi --only 7b-qlora-2048-b2-1gpu --out "$out" --timeout 170
has qlora2 && python3 -m bench.run_all --groups multi --only 7b-qlora-2048-b2-fsdp-2gpu --out "$out" --timeout 170
has qlora1b && python3 -m bench.run_all --groups multi --only 7b-qlora-2048-b4-1gpu,7b-qlora-2048-b8-1gpu --out "$out" --timeout 150
has long9 && python3 -m bench.run_all --groups long9 --out "$out" --timeout 200
has speed9 && python3 -m bench.run_all --groups speed9 --out "$out" --timeout 130
has speed9b && python3 -m bench.run_all --groups speed9b --out "$out" --timeout 130
has stage1s4 && $S --name 0.5b-lora-stage-1gpu-s4
has curve9 && python3 -m bench.run_all --groups curve9 --out "$out" --timeout 300
has mem && python3 -m bench.run_all --groups mem9 --out "$out" --timeout 150
} 2>&1 | tee -a "$out/run_multi.log"
