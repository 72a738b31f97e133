"""requirements.lock pins every dependency, and this environment is the one it describes."""
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
GPU_ONLY = {"liger-kernel"}  # the gpu extra: make installs it only where nvidia-smi is


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_declared_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    pins = _lock()
    for dep in declared:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}: lock {pins[name]} outside {req}"


def test_this_environment_is_the_lock():
    """make install (and CI) install with -c requirements.lock: every locked package at its locked version."""
    for name, version in _lock().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            assert name in GPU_ONLY, f"{name} is locked but not installed: run make install"
            continue
        assert installed.public == version.public, f"{name} {installed} installed, {version} locked: run make install"
