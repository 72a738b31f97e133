"""The docs name tests as evidence (`test_file::test_name`, or a prefix ending in `...`): each must exist."""
import re

from tests.conftest import REPO


def test_every_test_the_docs_name_exists():
    sources = {p.stem: p.read_text() for p in (REPO / "tests").glob("test_*.py")}
    named = 0
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for file, name, prefix in re.findall(r"`(test_\w+)::(test_\w+?)(\.\.\.)?`", doc.read_text()):
            pattern = rf"def {name}" + ("" if prefix else r"\(")
            assert file in sources and re.search(pattern, sources[file]), f"{doc.name}: {file}::{name} does not exist"
            named += 1
    assert named >= 40
