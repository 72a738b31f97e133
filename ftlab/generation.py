"""Batched greedy generation for chat prompts: left padding, length-sorted batches, results in input order."""
import time

import torch
from tqdm.auto import tqdm


class PromptTooLong(ValueError):
    """A prompt that, with the tokens to generate, does not fit the model's context window."""

    def __init__(self, index: int, tokens: int, context: int, max_new_tokens: int):
        super().__init__(f"prompt {index + 1} is {tokens} tokens, and with max_new_tokens {max_new_tokens} that is "
                         f"more than the model's context of {context} tokens; shorten it")
        self.index, self.tokens, self.context = index, tokens, context


def context_length(model):
    """The model's context window in tokens (config.max_position_embeddings), or None if it does not say."""
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def generate(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int, desc: str = "generate"):
    """Greedy replies to chat `prompts` (lists of messages), as (text, seconds per row) in input order.

    Prompts are sorted by length so a batch pads little; left padding keeps every prompt's last token
    next to its first generated one, so a batched reply equals the one-at-a-time reply.
    """
    tokenizer.padding_side = "left"
    encoded = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
               for p in prompts]
    # Checked before any work: a prompt past the context would be cut or, far past it, exhaust memory
    # on an attention matrix of its length squared.
    context = context_length(model)
    for i, ids in enumerate(encoded):
        if context is not None and len(ids) + max_new_tokens > context:
            raise PromptTooLong(i, len(ids), context, max_new_tokens)
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    device = next(model.parameters()).device
    results = [None] * len(prompts)
    model.eval()
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", disable=None):
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


def answer_loss(model, tokenizer, conversations: list[list[dict]]) -> list[float]:
    """Mean next-token loss of each conversation's last message (the reference answer) given the
    messages before it: the test loss of a fine-tune, which needs no parsing and fits any data set."""
    device = next(model.parameters()).device
    losses = []
    model.eval()
    with torch.inference_mode():
        for messages in conversations:
            prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True,
                                                   return_dict=True)["input_ids"]
            full = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
            ids = torch.tensor([full], device=device)
            labels = ids.clone()
            labels[:, : len(prompt)] = -100  # score the answer only, as training does
            losses.append(round(model(input_ids=ids, labels=labels).loss.float().item(), 4))
    return losses
