"""ftlab.io: what it writes can be read back by ftlab and by anyone the umask lets in."""
import os
import stat

import pytest
import torch
from safetensors.torch import save_file

from ftlab import io, stage


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_staged_folders_get_the_umask_permissions(tmp_path, umask):
    io.write_json(tmp_path / "m.json", {"a": 1})
    io.write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}])
    io.write_text(tmp_path / "r.md", "x\n")
    for name in ("m.json", "rows.jsonl", "r.md"):
        assert _mode(tmp_path / name) == 0o666 & ~umask, name  # mkstemp alone gives 0600
    with stage.staged(tmp_path / "out") as staging:
        io.write_json(staging / "inner.json", {})
        (staging / "weights.bin").write_bytes(b"\0")  # what a library writes with plain open()
        (staging / "sub").mkdir()
        save_file({"w": torch.zeros(2)}, staging / "sub" / "adapter_model.safetensors")  # safetensors writes 0600
    assert _mode(tmp_path / "out") == 0o777 & ~umask  # mkdtemp alone gives 0700
    for name in ("inner.json", "weights.bin", "sub/adapter_model.safetensors"):
        assert _mode(tmp_path / "out" / name) == 0o666 & ~umask, name
    assert _mode(tmp_path / "out" / "sub") == 0o777 & ~umask
    assert _mode(io.temp_dir(tmp_path, ".t-")) == 0o777 & ~umask


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085", "\x1c", "\r"])
def test_jsonl_round_trips_line_separators_inside_strings(tmp_path, char):
    rows = [{"report": f"db down{char}users affected", "id": 1}, {"report": "ok", "id": 2}]
    io.write_jsonl(tmp_path / "rows.jsonl", rows)
    assert io.read_jsonl(tmp_path / "rows.jsonl") == rows
