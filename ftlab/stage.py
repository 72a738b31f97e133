"""What every stage script shares: one place that turns a stage's error into the one-line `error: ...` and
its exit status, and staged outputs (a directory that replaces the out only when the stage finishes)."""
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

from ftlab.io import normal_tree, temp_dir


class StageError(Exception):
    """A problem the user can fix; the message says what. `code` is the exit status (130: interrupted)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def run(main) -> None:
    """Call a stage's main(); every error a user can fix ends the process with one line and no traceback."""
    from ftlab.io import DataFileError
    from ftlab.models import ModelSourceError

    try:
        main()
    except StageError as e:
        if str(e):
            print(f"error: {e}", file=sys.stderr)
        sys.exit(e.code)
    except (DataFileError, ModelSourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


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
