"""What every stage script shares: the one place that turns an error a user can fix into the one line
`error: ...` and its exit status (the CLI goes through it too), the watch that stops a stage when `dvc repro` is
stopped, and staged outputs (a directory that replaces the out only when the stage finishes)."""
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ftlab.errors import FtlabError
from ftlab.io import normal_tree, temp_dir, write_error

# Kept for the stages' own errors: an FtlabError by another name.
StageError = FtlabError


def exit_on_error(main) -> None:
    """Call main(); an FtlabError, a full disk or a folder that cannot be written ends the process with one line
    `error: ...` on stderr and no traceback (exit status: the error's code; 1 for a write error). Anything else is a
    bug and keeps its traceback."""
    try:
        main()
    except FtlabError as e:
        if e.code == 1 and str(e):
            sys.exit(f"error: {e}")  # Python prints it on stderr, exit status 1
        if str(e):
            print(f"error: {e}", file=sys.stderr)
        sys.exit(e.code)
    except OSError as e:
        if (line := write_error(e)) is None:
            raise
        sys.exit(f"error: {line}")


def run(main) -> None:
    """Run a stage's main(): stopped with `dvc repro` (stop_with_dvc), its errors one line (exit_on_error)."""
    stop_with_dvc()
    exit_on_error(main)


def stop_with_dvc() -> None:
    """A stage that `dvc repro` runs stops when DVC does. DVC, killed by SIGTERM (what a CI timeout sends), exits
    143 without stopping its child, which would go on writing outs behind DVC's back and race the next
    `dvc repro`. DVC sets DVC_STAGE for every stage command and runs it through $SHELL -c (/bin/sh when SHELL is
    unset). bash execs the command, so the stage is DVC's child; dash (Debian's /bin/sh) and wrapper scripts stay
    in between. So the watch covers the chain of ancestors from this process's parent up to DVC itself, the first
    one whose environment has no DVC_STAGE: once any of them is re-parented (its parent is gone), a daemon thread
    ends this process with the same SIGTERM. Staged outs are left in their .<out>-<pid>-* folders, which the next
    run removes (ftlab.stage.staged). Without /proc (not Linux) only the direct parent is watched."""
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staged(out: Path):
    """A fresh directory beside `out` (.<name>-<pid>-*) to write the stage's outputs into; renamed onto `out`
    when the block ends without an error, removed otherwise, so a failed or killed run never leaves an out
    that looks complete. Staging directories of processes that are gone (kill -9) are removed first."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}-*"):
        pid = stale.name.removeprefix(f".{out.name}-").split("-")[0]
        if stale.is_dir() and (not pid.isdigit() or not _alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    staging = temp_dir(out.parent, f".{out.name}-{os.getpid()}-")
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    normal_tree(staging)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
