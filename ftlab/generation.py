"""Batched greedy generation for chat prompts: left padding, length-sorted batches, results in input order."""
import time

import torch


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int):
    """Greedy replies to chat `prompts` (lists of messages), as (text, seconds per row) in input order.

    Prompts are sorted by length so a batch pads little; left padding keeps every prompt's last token
    next to its first generated one, so a batched reply equals the one-at-a-time reply.
    """
    tokenizer.padding_side = "left"
    encoded = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
               for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    device = next(model.parameters()).device
    results = [None] * len(prompts)
    model.eval()
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt").to(device)
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None, top_p=None, top_k=None,  # greedy: silence the model's sampling defaults
                pad_token_id=tokenizer.pad_token_id,
            )
        seconds = (time.perf_counter() - started) / len(batch)
        for row, ids in zip(batch, output[:, inputs["input_ids"].shape[1]:]):
            results[row] = (tokenizer.decode(ids, skip_special_tokens=True).strip(), seconds)
    return results
