"""python stages/train_lora.py

LoRA fine-tune of params.yaml `train_lora.base_model` on data/prepared/train.jsonl with TRL's SFTTrainer,
loss on the assistant's JSON only. `train_lora.lora` goes to peft.LoraConfig and `train_lora.sft` to
trl.SFTConfig as they are. Writes the adapter to models/lora/ and metrics/train_lora.json.
"""
from ftlab import stage
from ftlab.train.launch import main

if __name__ == "__main__":
    stage.run(lambda: main("train_lora"))
