import logging

# bitsandbytes 0.50 on a CPU with AVX512-BF16 tries, when it is imported, to load a fused 4-bit kernel from the
# Hugging Face hub through the optional `kernels` package, and logs a warning on stderr when it cannot. ftlab
# never uses that fused path (ftlab.models.portable_4bit: it computes in bfloat16 whatever
# bnb_4bit_compute_dtype says, so results would depend on the CPU, and it fails on layers narrower than the
# 4-bit block size), so the warning is noise on every stage's stderr: silenced here, before anything imports
# bitsandbytes. With `kernels` not installed (it is no dependency) and HF_HUB_OFFLINE=1, nothing is fetched.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def _stop_with_dvc() -> None:
    """A stage that `dvc repro` runs stops when DVC does. DVC, killed by SIGTERM (what a CI timeout sends), exits
    143 without stopping its child, which would go on writing outs behind DVC's back and race the next
    `dvc repro`. DVC sets DVC_STAGE for every stage command: under it a daemon thread watches the parent process
    and, once it is gone (the process is re-parented), ends this one with the same SIGTERM. Staged outs are left
    in their .<out>-<pid>-* folders, which the next run removes (ftlab.stage.staged)."""
    import os
    import signal
    import threading
    import time

    parent = os.getppid()
    if "DVC_STAGE" not in os.environ or parent == 1:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ftlab-stop-with-dvc", daemon=True).start()


_stop_with_dvc()
