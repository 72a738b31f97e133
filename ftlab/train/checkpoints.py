"""Checkpoints, resume and the run's folders: the run key, the lock, the last complete checkpoint, and the scratch
folder the adapter is staged in.

With a checkpoint root (the stages pass FTLAB_CACHE/checkpoints/<stage>), the Trainer saves checkpoints
(sft.save_strategy / save_steps) into <root>/<run key>/, where the run key hashes everything that determines the
run: the params section, the train/val bytes, every source file of this package and the library versions. A later
run with the same key resumes from its last complete checkpoint (weights, optimizer, scheduler, RNG states, data
position); any other key starts afresh. A successful run deletes its checkpoints and those of every other key of
the stage that no run is using.
"""
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from ftlab import params
from ftlab.errors import TrainError
from ftlab.io import temp_dir


def recipe_hash() -> str:
    """Hash of every source file of ftlab/train/: a change to the recipe starts a run afresh."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f"\0{f.name}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# Written (atomically) into a checkpoint once the Trainer has finished saving it: only such a
# checkpoint is resumed, so a run killed in the middle of a save never resumes from half a checkpoint.
COMPLETE = "ftlab_complete.json"
LOCK = ".lock"


def run_key(p: params.Train, data_dir: Path) -> str:
    """Hash of what determines a training run: a checkpoint is resumed only by a run with the same key."""
    import peft
    import transformers
    import trl

    h = hashlib.sha256()
    what = {
        "params": p.model_dump(mode="json"),  # base model, row limits, lora, sft (seed included), bnb
        "recipe": recipe_hash(),
        "versions": [torch.__version__, transformers.__version__, trl.__version__, peft.__version__],
        "cuda": torch.cuda.is_available(),
    }
    if p.base_model.source == "local" and (Path(p.base_model.path) / "config.json").is_file():
        base = Path(p.base_model.path)  # a local base can change in place: its config and file sizes
        what["local_base"] = [(f.name, f.stat().st_size) for f in sorted(base.iterdir()) if f.is_file()]
        what["local_config"] = (base / "config.json").read_text()
    h.update(json.dumps(what, sort_keys=True).encode())
    for name in ("train.jsonl", "val.jsonl"):
        f = data_dir / name
        h.update(f"\0{name}\0".encode())
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()[:20]


def step(checkpoint: Path) -> int:
    tail = checkpoint.name.removeprefix("checkpoint-")
    return int(tail) if tail.isdigit() else -1


def last_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step in run_dir, if any."""
    done = [c for c in run_dir.glob("checkpoint-*") if step(c) >= 0 and (c / COMPLETE).is_file()]
    return max(done, key=step, default=None)


def lock(run_dir: Path, wait: bool = True):
    """An exclusive lock on run_dir (released when the process dies, kill -9 included). Another process training
    with the same params and data holds it: wait for it (a parallel `dvc queue` worker given the same training
    params; issue 19: the second exited and its experiment was lost), or with wait=False exit."""
    said = False
    while True:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            if not wait:
                raise TrainError(f"another process is training with the same params and data ({run_dir} is locked)")
            if not said:
                print(f"waiting: another process is training with the same params and data ({run_dir} is locked)",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(1)
            continue
        try:  # the first run's cleanup may have deleted the file we waited on: then lock the new one
            if os.fstat(handle.fileno()).st_ino == os.stat(run_dir / LOCK).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


def remove_unused_runs(checkpoint_root: Path) -> None:
    """Delete every run directory under checkpoint_root that no live process holds the lock of."""
    for run_dir in checkpoint_root.iterdir() if checkpoint_root.is_dir() else ():
        if not run_dir.is_dir():
            continue
        try:
            with open(run_dir / LOCK, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(run_dir, ignore_errors=True)
        except BlockingIOError:
            continue  # a concurrent run (e.g. a parallel `dvc queue` worker) is training with it


def checkpoint_callback(live_dir: Path | None):
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        """After the Trainer saved checkpoint-N: copy the dvclive logs so far into it (a resumed run
        restores them, so the curves have every step once), then mark it complete."""

        def on_save(self, args, state, control, **kwargs):
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.barrier()  # every process has written its part (RNG state, FSDP shards)
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if not state.is_world_process_zero or not checkpoint.is_dir():
                return
            if live_dir is not None and live_dir.is_dir():
                shutil.copytree(live_dir, checkpoint / "dvclive", dirs_exist_ok=True)
            tmp = checkpoint / f".{COMPLETE}.tmp"
            tmp.write_text(json.dumps({"global_step": state.global_step}))
            os.replace(tmp, checkpoint / COMPLETE)

    return MarkComplete()


class Run:
    """The folders of one training run, as a context manager. `dir` is where the Trainer writes (the checkpoint
    folder of the run key, or a scratch folder), `resume` the checkpoint to resume from (None: from the start),
    `staging` where the adapter is saved before it is renamed onto the out. On process 0 the run holds the run
    key's lock until `finish()` (the adapter is in place) or the block ends; the scratch folder lives beside the
    out and goes away whatever happens (after a kill -9, at the next run: a killed run's scratch folder is empty).
    Under `accelerate launch` every process enters it; only process 0 locks, cleans up and restores the logs."""

    def __init__(self, out_dir: Path, checkpoint_root: Path | None, key, live_dir: Path | None = None):
        self.out_dir, self.root, self.key, self.live_dir = Path(out_dir), checkpoint_root, key, live_dir
        self.main = int(os.environ.get("RANK", 0)) == 0
        self.work = self.handle = self.resume = None
        if int(os.environ.get("WORLD_SIZE", 1)) > 1 and checkpoint_root is None:
            raise ValueError("a multi-process run needs checkpoint_root: every process must share one output directory")

    def __enter__(self) -> "Run":
        if self.main:
            for leftover in self.out_dir.parent.glob(f".{self.out_dir.name}-work-*"):
                try:
                    leftover.rmdir()
                except OSError:
                    pass
            self.work = temp_dir(self.out_dir.parent, f".{self.out_dir.name}-work-")
        try:
            self.dir = self.work
            if self.root is not None:
                self._open_checkpoints()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _open_checkpoints(self) -> None:
        self.dir = Path(self.root) / self.key()
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.main:
            # One process waits for a run with the same key to finish; the processes of a multi-process run
            # choose their resume point together, so they stop instead of waiting apart.
            self.handle = lock(self.dir, wait=int(os.environ.get("WORLD_SIZE", 1)) == 1)
        self.resume = last_checkpoint(self.dir)  # after the lock: what a run that just finished left
        if not self.main:
            return
        for stale in self.dir.glob("checkpoint-*"):  # half-saved ones, and any after the one resumed
            if stale != self.resume:
                shutil.rmtree(stale, ignore_errors=True)
        if self.resume is not None:
            print(f"resuming from {self.resume} (step {step(self.resume)})", file=sys.stderr)
            if self.live_dir is not None:  # the curves up to the checkpoint (DVC deletes the out before a run)
                shutil.rmtree(self.live_dir, ignore_errors=True)
                if (self.resume / "dvclive").is_dir():
                    shutil.copytree(self.resume / "dvclive", self.live_dir)

    @property
    def staging(self) -> Path:
        return (self.work or self.dir) / "adapter"

    @property
    def portable_dir(self) -> str:
        """`dir` as a record in git may name it: the run key under the checkpoint root, not this machine's path."""
        return f"<checkpoint root>/{self.dir.name}" if self.root is not None else "<a scratch folder>"

    @property
    def resumed_step(self) -> int:
        return step(self.resume) if self.resume is not None else 0

    def finish(self) -> None:
        """The adapter is in place: this run's checkpoints and every unused other key's go."""
        if self.root is not None and self.main:
            self.handle.close()
            remove_unused_runs(Path(self.root))

    def __exit__(self, *exc) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)
        if self.handle is not None:
            self.handle.close()
