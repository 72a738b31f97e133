"""JSON / JSONL files: atomic writes (temp file + rename) and reads whose errors name file and line.

A write that fails (disk full, a file size limit) leaves the previous file as it was and raises OSError naming
the target file; `write_error` turns such an error (from our writes or a library's, such as save_pretrained) into
the one line that `ftlab.stage.run` and the CLI print.
"""
import errno
import json
import os
import tempfile
from pathlib import Path

from ftlab.errors import FtlabError

# errno values that mean "no room to write": disk full, quota exceeded, over RLIMIT_FSIZE.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# errno values of a folder that cannot be written: no permission, a read-only file system.
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def write_error(error: BaseException) -> str | None:
    """The one line for an OSError that says the disk is full or a folder is not writable; None for any other."""
    if not isinstance(error, OSError) or error.errno not in NO_SPACE | NOT_WRITABLE:
        return None
    where = error.filename or "an output file"
    why = error.strerror or os.strerror(error.errno)
    if error.errno in NO_SPACE:
        return (f"{where}: {why}: free some disk space (or raise the file size limit) and run the stage again; the "
                "file was not replaced")
    return (f"{where}: {why}: make its folder writable, then `dvc checkout` restores the outputs DVC removed before "
            "the stage ran, and run it again")


class DataFileError(FtlabError):
    """A data file that is missing or malformed; the message names the file (and line)."""


def read_jsonl(path: Path, numbered: bool = False) -> list:
    """The JSON objects of a JSONL file (blank lines skipped); with numbered, (line number, object) pairs."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: not found; run the stage that writes it (dvc repro)")
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    # Lines end at "\n" only: str.splitlines() would also split at U+2028, U+2029 and U+0085, which a JSON
    # string may hold raw (write_jsonl keeps non-ASCII text as it is).
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFileError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise DataFileError(f"{path}:{number}: expected a JSON object per line")
        rows.append((number, row) if numbered else row)
    return rows


def read_json(path: Path):
    """One JSON file; a missing or broken file is a DataFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: not found; run the stage that writes it (dvc repro)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFileError(f"{path}: not valid JSON ({e})") from None


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode(path: Path) -> Path:
    """Give `path` the permissions a plain open()/mkdir() would under the umask. tempfile's mkstemp and mkdtemp
    create 0600 files and 0700 folders whatever the umask; renamed onto an out, they would lock out every other
    reader (another user, a CI artifact upload, a shared DVC cache)."""
    path = Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_umask())
    return path


def normal_tree(root: Path) -> Path:
    """normal_mode on `root` and everything under it: what libraries save into a staged folder (safetensors
    writes 0600 files) gets the same permissions as the rest before the folder is renamed onto an out."""
    root = Path(root)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            normal_mode(path)
    return root


def temp_dir(parent: Path, prefix: str) -> Path:
    """tempfile.mkdtemp in `parent`, with the umask's permissions (it is renamed onto an out)."""
    return normal_mode(Path(tempfile.mkdtemp(dir=parent, prefix=prefix)))


def _atomic_write(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        normal_mode(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:  # name the target, not the temp file
            raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from None
        raise


def write_jsonl(path: Path, rows) -> None:
    _atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_json(path: Path, obj) -> None:
    _atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_text(path: Path, text: str) -> None:
    _atomic_write(path, text)
