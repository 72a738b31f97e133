"""python stages/generate_data.py

Writes data/generated/rows.jsonl: incident reports with their gold triage JSON (../shared/triage-spec.md),
one row per line, from the backend named by params.yaml `generate_data.backend`:
  template  seeded and offline (ftlab/synth.py): same params, same bytes.
Summary counts go to metrics/generate_data.json.
"""
import sys
from collections import Counter
from pathlib import Path

from ftlab import params, synth, triage
from ftlab.io import write_json, write_jsonl

OUT = Path("data/generated/rows.jsonl")

p = params.load("generate_data")
# One entry per backend; each returns rows {"id", "report", "triage", ...} (the Claude backend plugs in here).
BACKENDS = {"template": lambda: synth.generate(p.n_rows, p.seed)}
rows = BACKENDS[p.backend]()

bad = [(r["id"], errors) for r in rows if (errors := triage.validate(r["triage"]))]
if bad:  # a generator bug, never user input: refuse to write rows that break the spec
    sys.exit(f"error: backend {p.backend} produced {len(bad)} rows that break the spec, e.g. {bad[0]}")

write_jsonl(OUT, rows)
write_json(Path("metrics/generate_data.json"), {
    "rows": len(rows),
    "severity": dict(sorted(Counter(r["triage"]["severity"] for r in rows).items())),
    "category": dict(sorted(Counter(r["triage"]["category"] for r in rows).items())),
    "style": dict(sorted(Counter(r.get("style", "unknown") for r in rows).items())),
})
print(f"wrote {len(rows)} rows to {OUT}")
