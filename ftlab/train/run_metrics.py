"""The figures of a finished run, from the Trainer's log history: pure, so that a resumed run's figures are tested
without training."""


def run_metrics(log_history: list, global_step: int, training_loss: float, resumed_step: int, seconds: float,
                eval_loss: float | None) -> dict:
    """Losses, steps and speed of a run that ended at `global_step` after resuming at `resumed_step` (0: none).

    A resumed run's log history starts with the earlier run's: tokens and seconds count this run only, while
    `train_loss` is over every step (the Trainer's training_loss averages this run's steps only; the losses logged
    before the resume are added back, each weighted by the steps it covers)."""
    tokens = max((log.get("num_tokens", 0) for log in log_history), default=0) - max(
        (log.get("num_tokens", 0) for log in log_history if log.get("step", 0) <= resumed_step), default=0)
    train_loss, last = training_loss * (global_step - resumed_step), 0
    for log in log_history:
        if "loss" in log and log.get("step", 0) <= resumed_step:
            train_loss, last = train_loss + log["loss"] * (log["step"] - last), log["step"]
    train_loss /= max(global_step, 1)
    return {
        "train_loss": round(train_loss, 4),
        "eval_loss": round(eval_loss, 4) if eval_loss is not None else None,
        "steps": global_step,
        "resumed_from_step": resumed_step,
        "train_seconds": round(seconds, 1),
        "train_tokens_per_s": round(tokens / seconds, 1) if tokens else None,  # all processes' tokens
    }
