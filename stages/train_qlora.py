"""python stages/train_qlora.py

QLoRA: the recipe of train_lora (ftlab/train/) with the base loaded in 4 bits through
transformers.BitsAndBytesConfig(**params.yaml `train_qlora.bnb`) and PEFT's k-bit preparation.
Writes the adapter to models/qlora/ and metrics/train_qlora.json.
"""
from ftlab import stage
from ftlab.train.launch import main

if __name__ == "__main__":
    stage.run(lambda: main("train_qlora"))
