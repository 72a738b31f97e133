"""python stages/train_qlora.py

QLoRA: the recipe of train_lora (ftlab/train.py) with the base loaded in 4 bits through
transformers.BitsAndBytesConfig(**params.yaml `train_qlora.bnb`) and PEFT's k-bit preparation.
Writes the adapter to models/qlora/ and metrics/train_qlora.json.
"""
from ftlab.train import main

main("train_qlora")
