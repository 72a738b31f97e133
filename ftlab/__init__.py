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
    `dvc repro`. DVC sets DVC_STAGE for every stage command and runs it through $SHELL -c (/bin/sh when SHELL is
    unset). bash execs the command, so the stage is DVC's child; dash (Debian's /bin/sh) and wrapper scripts stay
    in between. So the watch covers the chain of ancestors from this process's parent up to DVC itself, the first
    one whose environment has no DVC_STAGE: once any of them is re-parented (its parent is gone), a daemon thread
    ends this process with the same SIGTERM. Staged outs are left in their .<out>-<pid>-* folders, which the next
    run removes (ftlab.stage.staged). Without /proc (not Linux) only the direct parent is watched."""
    import os
    import signal
    import threading
    import time

    if "DVC_STAGE" not in os.environ or os.getppid() == 1:
        return

    def parent_of(pid: int) -> int | None:
        try:  # /proc/PID/stat: "pid (comm) state ppid ...", comm may hold spaces and parentheses
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return None if fields[0] == "Z" else int(fields[1])

    def under_dvc(pid: int) -> bool:
        try:
            return any(v.startswith(b"DVC_STAGE=") for v in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"))
        except OSError:
            return False

    chain = [(os.getpid(), os.getppid())]  # (process, the parent it must keep), up to the shell DVC started
    while under_dvc(chain[-1][1]) and (grand := parent_of(chain[-1][1])) not in (None, 1):
        chain.append((chain[-1][1], grand))

    def watch() -> None:
        while all((os.getppid() if pid == os.getpid() else parent_of(pid)) == parent for pid, parent in chain):
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ftlab-stop-with-dvc", daemon=True).start()


_stop_with_dvc()
