"""Label files: gold triage labels for reports, read by `ftlab score` and by prepare's real-text split.

One JSON object per line: {"id": ..., "severity": ..., "category": ..., "affected_services": [...]},
optionally "severity_ok" / "category_ok" (every answer accepted where more than one is defensible; the
preferred one, `severity` / `category`, must be among them) and "report" (the text that was labelled).
A file may label only some fields (severity and category without affected_services, say): each field is
in every row or in none, and only the metrics of the labelled fields are scored (LABELLED_BY).
"""
from pathlib import Path

from ftlab import triage
from ftlab.io import DataFileError, read_jsonl

FIELDS = ("severity", "category", "affected_services")
# The metrics each labelled field makes possible (the rest, format and faithfulness, need no labels).
LABELLED_BY = {"severity": ("severity_accuracy", "severity_exact"), "category": ("category_accuracy", "category_exact"),
               "affected_services": ("services_f1",)}


def read(path: Path, require: tuple[str, ...] = (), need_report: bool = False) -> tuple[list[dict], tuple[str, ...]]:
    """(rows, the fields they label), every row checked; a bad row stops with its line and field."""
    rows, fields = [], None
    for number, row in read_jsonl(path, numbered=True):
        where = f"{path}: line {number}"
        if row.get("id") is None or isinstance(row.get("id"), (dict, list)):
            raise DataFileError(f"{where}: no 'id' (a string or number); labels are matched to predictions by id")
        present = tuple(f for f in FIELDS if f in row)
        if fields is None:
            fields = present
        elif present != fields:
            odd = sorted(set(present) ^ set(fields))
            raise DataFileError(f"{where}: labels {', '.join(present) or 'nothing'}, but earlier rows label "
                                f"{', '.join(fields) or 'nothing'}; give every row the same fields ({', '.join(odd)})")
        for key, allowed in (("severity", triage.SEVERITIES), ("category", triage.CATEGORIES)):
            if key not in row:
                if f"{key}_ok" in row:
                    raise DataFileError(f"{where}: field '{key}_ok' without '{key}' (the preferred answer)")
                continue
            if row[key] not in allowed:
                raise DataFileError(f"{where}: field {key!r} is {row[key]!r}; expected one of {', '.join(allowed)}")
            accepted = row.setdefault(f"{key}_ok", [row[key]])
            if not isinstance(accepted, list) or not set(accepted) <= set(allowed) or row[key] not in accepted:
                raise DataFileError(f"{where}: field '{key}_ok' must be a list of {', '.join(allowed)} that includes {key}")
        if "affected_services" in row:
            services = row["affected_services"]
            if not isinstance(services, list) or not all(isinstance(s, str) and s.strip() for s in services):
                raise DataFileError(f"{where}: field 'affected_services' must be a list of non-empty strings")
        if need_report and (not isinstance(row.get("report"), str) or not row["report"].strip()):
            raise DataFileError(f"{where}: field 'report' must be a non-empty string (the text that was labelled)")
        rows.append(row)
    if not rows:
        raise DataFileError(f"{path}: no label rows")
    missing = [f for f in require if f not in fields]
    if missing:
        raise DataFileError(f"{path}: the rows do not label {', '.join(missing)}, which this use needs")
    ids = [row["id"] for row in rows]
    if len(set(map(str, ids))) != len(ids):
        twice = next(i for i in ids if list(map(str, ids)).count(str(i)) > 1)
        raise DataFileError(f"{path}: id {twice!r} is labelled more than once; give each row its own id")
    return rows, fields


def skipped_metrics(fields: tuple[str, ...]) -> list[str]:
    """The label metrics a file with these fields cannot score."""
    return [m for f in FIELDS if f not in fields for m in LABELLED_BY[f]]
