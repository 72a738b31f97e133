"""Batched greedy generation (left padding, length-sorted batches) returns, in input order, the same
replies as one prompt at a time."""
import torch

from ftlab import generation, models
from ftlab.params import BaseModelSpec
from tests.conftest import triage_row


def test_batched_equals_one_at_a_time_and_keeps_input_order(tiny_model_dir):
    spec = BaseModelSpec(source="local", path=str(tiny_model_dir))
    model, tokenizer = models.load_model(spec), models.load_tokenizer(spec)
    torch.manual_seed(0)
    with torch.no_grad():  # a random tiny model mostly repeats one token; spread its outputs
        for p in model.parameters():
            p.mul_(8)
    prompts = [triage_row(i)["messages"][:-1] for i in (3, 41, 7)]
    prompts[1][1]["content"] += " Search and billing look fine." * 4  # different lengths: real padding
    one_by_one = [generation.generate(model, tokenizer, [p], 12, 1)[0][0] for p in prompts]
    batched = [text for text, _ in generation.generate(model, tokenizer, prompts, 12, 3)]
    assert batched == one_by_one
    assert len(set(one_by_one)) > 1  # the prompts really produced different replies
