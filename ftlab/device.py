"""The device a run is on: its name for the metrics, and which GPUs of a shared box this process takes."""
import os
import sys
import tempfile
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name as `lscpu` prints it (Linux's /proc/cpuinfo), else the platform's processor string."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def device_name() -> str:
    """The device a stage runs on, for its metrics: `cpu: <CPU model> (N threads)` or `cuda: <GPU name>
    x<processes>`, so that a CPU's and a GPU's results cannot be mistaken for each other in `dvc metrics diff`
    (on_cuda changes the recipe, and the two round floats differently), nor two CPUs' (a long LoRA run drifts
    between an Intel Xeon and an AMD EPYC: docs/operations.md, "Determinism")."""
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name()} x{int(os.environ.get('WORLD_SIZE', 1))}"
    return f"cpu: {cpu_model()} ({torch.get_num_threads()} threads)"


def claim_gpus(count: int = 1) -> None:
    """Show this process `count` GPUs, before CUDA starts, taking GPUs that no other ftlab process holds (an flock
    per GPU, kept until the process ends), so that concurrent runs, such as `dvc queue start -j N` workers, spread
    over the GPUs. A plain run takes one: with several visible the Trainer would wrap the model in nn.DataParallel,
    which TRL refuses. A run that re-executes itself under `accelerate launch` takes `num_processes`; the locks
    stay open through the exec, so the launcher holds them while its workers train. Too few free: the free ones
    and then the first held ones (shared), with a note."""
    import fcntl
    import subprocess

    if "LOCAL_RANK" in os.environ:  # a worker of `accelerate launch`: its launcher chose the GPUs
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:  # every GPU; count them without starting CUDA in this process
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        visible = ",".join(str(i) for i in range(sum(line.startswith("GPU ") for line in listing.splitlines())))
    gpus = [g.strip() for g in visible.split(",") if g.strip()]
    if len(gpus) < 2 or count > len(gpus):  # nothing to choose; or more processes than GPUs, which train.main refuses
        return
    locks = Path(tempfile.gettempdir()) / "ftlab-gpu-locks"
    locks.mkdir(exist_ok=True)
    free = []
    for gpu in gpus:
        if len(free) == count:
            break
        handle = open(locks / f"gpu-{gpu}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        os.set_inheritable(handle.fileno(), True)  # Python closes fds on exec by default; the launcher keeps this
        claim_gpus.locks = [*getattr(claim_gpus, "locks", []), handle]  # held for the life of the process
        free.append(gpu)
    chosen = free + [g for g in gpus if g not in free][:count - len(free)]
    shared = f" ({count - len(free)} shared with another run: too few free)" if len(free) < count else ""
    print(f"note: {len(gpus)} GPUs visible; this run uses GPU {','.join(chosen)}{shared}"
          + ("" if count > 1 else " (train_*.launch runs on several)"), file=sys.stderr)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
