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


def _headings(path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]


def test_every_pointer_into_the_docs_from_the_code_resolves():
    """Code comments and messages point at a doc (`docs/operations.md`), a section of one (`docs/gpu.md "Several
    GPUs"`, `README "Data-scaling curve"`: a heading that starts with the quoted words) or a numbered section of a note
    (`notes/decision.md section 9`). Each must lead somewhere: sections that moved out of the README once left 13
    pointers at nothing."""
    code = [*(REPO / "ftlab").rglob("*.py"), *(REPO / "stages").glob("*.py"), *(REPO / "bench").glob("*.py"),
            *(REPO / "tests").glob("*.py"), REPO / "params.yaml", REPO / "dvc.yaml", REPO / "Makefile"]
    pointer = re.compile(r'(README|(?:docs|notes|bench|data/real)/[\w-]+\.md)(?: "([^"\n]+)"| section (\d+))?')
    checked = 0
    for path in code:
        if path.name == "test_docs.py":
            continue
        for line, text in enumerate(path.read_text().splitlines(), 1):
            for target, section, number in pointer.findall(text):
                where = f"{path.relative_to(REPO)}:{line}: {target}"
                doc = REPO / ("README.md" if target == "README" else target)
                if target == "README" and not section:
                    continue  # the word README in a sentence, not a pointer
                assert doc.is_file(), f"{where} does not exist"
                if section:
                    assert any(h.startswith(section) for h in _headings(doc)), f'{where} has no section "{section}"'
                if number:
                    assert any(h.startswith(f"{number}.") for h in _headings(doc)), f"{where} has no section {number}"
                checked += 1
    assert checked >= 40, checked
