"""Every reach of the recipe into TRL's, PEFT's or a model's internals, in one place: the first thing a TRL or
PEFT upgrade can break. Each names the private name it relies on, and fails loudly where that name is gone."""
import contextlib
import json
from pathlib import Path

import torch


def weighted_trainer_class():
    from trl import SFTTrainer

    class WeightedSFTTrainer(SFTTrainer):
        """TRL's SFTTrainer with LabelWeights on the training loss. The loss stays TRL's own (its fused LM head,
        its token normalisation and metrics): only the per-token log-probabilities it sums are weighted."""

        label_weights = None  # a recipe.LabelWeights, set by recipe.build_trainer

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.label_weights is None or not model.training:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            weights = self.label_weights(inputs["labels"])[:, 1:]  # log_probs are those of labels[:, 1:]
            forward = model.forward

            def weighted(*args, **kwargs):
                out = forward(*args, **kwargs)
                if kwargs.get("fused_lm_head"):
                    out.log_probs = out.log_probs * weights
                return out

            # An instance `forward` may be accelerate's autocast wrapper (mixed precision): put back exactly what was there.
            previous = model.__dict__.get("forward")
            model.forward = weighted
            try:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            finally:
                if previous is None:
                    del model.forward
                else:
                    model.forward = previous

    return WeightedSFTTrainer


@contextlib.contextmanager
def compact_lm_head():
    """TRL's fused LM head (trl/trainer/utils.py add_fused_lm_head) projects only the positions that have a label
    on Triton devices (CUDA, XPU); on every other device it projects every position, prompt and padding included,
    so that compiled backends (Neuron) see one tile shape. A CPU runs eagerly and gains nothing from that: with
    completion-only loss it is 2-3x the LM head's work (a 49,152-token vocabulary: a fifth of the 135M's weights).
    This makes the CPU take the compact path too, for the training and validation passes. The loss is the same;
    `python -m bench.cpu_lm_head` measures the time (notes/decision.md section 9)."""
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:  # TRL renamed it: fail here, not with a silent 2x slowdown
        raise RuntimeError(f"trl {trl_utils.version('trl')} has no trainer.utils._use_triton, which "
                           "ftlab.train.patches.compact_lm_head replaces: update it for this TRL")
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def chunk_mlps(model, tokens: int) -> int:
    """Run each decoder layer's MLP over a row `tokens` positions at a time, every piece recomputed in
    the backward pass (non-reentrant checkpoints, which nest inside the Trainer's per-layer ones).
    Why: on a long row the MLP's intermediates (gate, up, their product, LoRA dropout copies, all
    FFN-wide: ~200 KB a token on the 7B) are most of what one layer keeps for its backward, and with
    per-layer checkpointing that one layer is the peak. Exact, since the MLP works position by
    position; rows of up to `tokens` run the MLP as before. Returns how many MLPs it wrapped."""
    from torch.utils.checkpoint import checkpoint

    def chunked(mlp):
        forward = mlp.forward

        def run(x):
            if x.shape[-2] <= tokens:
                return forward(x)
            grad = torch.is_grad_enabled()
            outs = [checkpoint(forward, piece, use_reentrant=False) if grad else forward(piece)
                    for piece in x.split(tokens, dim=-2)]
            if not isinstance(outs[0], torch.Tensor):  # e.g. a mixture-of-experts block: (hidden, router logits)
                raise TypeError(f"mlp_chunk_tokens: {type(mlp).__name__} returns {type(outs[0]).__name__}, not one "
                                "tensor, so it cannot run in pieces; set mlp_chunk_tokens: null for this model")
            return torch.cat(outs, dim=-2)
        return run

    layers = [m for m in model.modules() if isinstance(getattr(m, "mlp", None), torch.nn.Module)]
    for layer in layers:
        layer.mlp.forward = chunked(layer.mlp)
    return len(layers)


def restore_token_count(trainer, checkpoint: Path) -> None:
    """TRL counts the tokens trained on (the num_tokens curve) from zero in every process and does not save the count
    in a checkpoint: a resumed run's curve restarted at zero. Go on from the checkpoint's (SFTTrainer's private
    `_total_train_tokens`)."""
    if not hasattr(trainer, "_total_train_tokens"):
        raise RuntimeError("this TRL's SFTTrainer has no _total_train_tokens, which "
                           "ftlab.train.patches.restore_token_count sets: update it for this TRL")
    logged = json.loads((checkpoint / "trainer_state.json").read_text()).get("log_history", [])
    trainer._total_train_tokens = max((log.get("num_tokens", 0) for log in logged), default=0)
