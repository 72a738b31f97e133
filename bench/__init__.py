"""Measurements of ftlab's recipes: run from the repository root as modules, `python -m bench.<script>` (bench/README.md)."""
