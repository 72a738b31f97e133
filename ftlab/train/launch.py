"""The training stages' entry point: claim the GPUs, re-run under `accelerate launch` when several processes are
asked for, then train with the stage's params and paths."""
import os
import sys

from ftlab import contracts, device, models, params
from ftlab.errors import TrainError
from ftlab.train import train


def gpus_needed(stage: str) -> int | None:
    """How many GPUs the stage's run uses (`launch.num_processes`), read from the raw params.yaml before
    params.load imports the libraries, which may start CUDA; 1 when absent or not valid (params.load then says
    what is wrong); None when `launch.gpu_ids` pins the GPUs."""
    try:
        section = params.raw_section(stage, params.read_yaml())
    except params.ParamsError:
        return 1
    launch = section.get("launch") if isinstance(section, dict) else None
    n = launch.get("num_processes") if isinstance(launch, dict) else None
    if isinstance(launch, dict) and launch.get("gpu_ids") is not None:
        return None
    return n if isinstance(n, int) and n > 1 else 1


def main(stage: str) -> None:
    """The train_lora / train_qlora stage: params.yaml `stage`, data/prepared in, models/<lora|qlora>, metrics/<stage>.json
    and dvclive/<stage> out. Run it through ftlab.stage.run, which turns an FtlabError into one line."""
    if (gpus := gpus_needed(stage)) is not None:
        device.claim_gpus(gpus)  # first, before anything starts CUDA
    p = params.load(stage)
    if p.num_processes > 1 and "LOCAL_RANK" not in os.environ:
        # The same stage, re-run under `accelerate launch` (DDP or FSDP, as `launch:` says) on the GPUs claimed
        # above. exec, so that DVC's process is the launcher, which stops every worker when it is stopped.
        if os.environ.get("FTLAB_LAUNCHED"):  # accelerate ran one plain process: it would launch itself again
            raise TrainError(f"{stage}.launch.num_processes: {p.num_processes}, but `accelerate launch` started a "
                             "single process (no LOCAL_RANK); set multi_gpu: true or use_fsdp: true, on a machine with "
                             "that many GPUs")
        argv = [sys.executable, "-m", "accelerate.commands.launch", *params.launch_argv(f"{stage}.launch", p.launch),
                sys.argv[0], *sys.argv[1:]]
        print("launching:", " ".join(argv[1:]), file=sys.stderr, flush=True)
        os.environ["FTLAB_LAUNCHED"] = "1"
        os.execv(sys.executable, argv)
    out_dir = contracts.adapter_dir(stage)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    cache = models.cache_dir()
    try:
        # Checkpoints live outside every DVC out (FTLAB_CACHE is git-ignored), so `dvc repro` neither
        # deletes them before the stage nor caches them after it; docs/operations.md "Resume after a crash".
        train(contracts.PREPARED, out_dir, contracts.metrics_file(stage), p, contracts.dvclive_dir(stage),
              checkpoint_root=cache / "checkpoints" / stage)
    except models.ModelSourceError as e:  # it names the key under the section: base_model...
        raise TrainError(f"{stage}.{e}") from None
