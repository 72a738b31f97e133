"""The real-text corpora's checks (data/real/*.jsonl): record format, provenance and disjointness.

    python -m ftlab.data.corpus check [data/real/train.jsonl]   every rule below; exit 1 with one line per problem
        [--against OTHER.jsonl]...                         also disjoint from OTHER (e.g. new rows against a corpus)
    python -m ftlab.data.corpus merge OUT PART.jsonl...         annotators' part files -> one file (ids renumbered)
        [--append]                                         add them to OUT, an existing corpus (its ids kept)
        [--ids-out MAP.json]                               {part id: new id}, to carry other files' ids over
    python -m ftlab.data.corpus agreement A.jsonl B.jsonl       two annotations of the same rows: agreement figures
    python -m ftlab.data.corpus rename MAP.json FILE...        the ids of FILE's records through merge --ids-out's map, in place
    python -m ftlab.data.corpus adjudicate FILE DECISIONS.jsonl  an adjudication's labels into FILE, in place (each
                                                         decision's labels-before must be the record's labels now)

The training corpus must be disjoint from both real evaluation files (reports.jsonl, held out; dev.jsonl, for
choosing recipes) by *source*: a GitHub repository owner, or a web page's registered domain. A shared owner or
vendor could share an incident, a template or a writer, and the evaluation would then measure memory. Near
duplicates are found with the data gate's shingle Jaccard (ftlab.data.gate), inside a file and across files.
"""
import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from ftlab import triage
from ftlab.data import gate
from ftlab.io import DataFileError, read_jsonl

KEYS = ("id", "report", "source_url", "source_kind", "licence", "severity", "severity_ok", "category", "category_ok",
        "affected_services", "rationale")
KINDS = ("issue_tracker", "status_page", "postmortem", "mailing_list", "advisory")
# Every real file that is never trained on: the held-out split, the development split and its second part (dev2.jsonl,
# data/real/DEV.md "Second part"). A training text shares no source and no near duplicate with any of them.
EVALUATION = (Path("data/real/reports.jsonl"), Path("data/real/dev.jsonl"), Path("data/real/dev2.jsonl"))
# Two reports this close (5-character shingle Jaccard) are one text: the gate's threshold is 0.8 for generated
# rows; real texts are held to a stricter bar.
NEAR = 0.5
MAX_PER_SOURCE = 3
MAX_CHARS = 1200
# The reserved independent check (DEVELOPERS.md): never the danluu/post-mortems list or a collection built from
# it, nor the big providers' own incident write-ups such lists collect. Checked on the source URL.
RESERVED_OWNERS = {"danluu", "icco", "snakescott", "k8s-af"}
RESERVED_DOMAINS = {
    "amazon.com", "amazonaws.com", "aws.amazon.com", "google.com", "cloud.google.com", "googleblog.com", "azure.com",
    "microsoft.com", "cloudflare.com", "cloudflarestatus.com", "githubstatus.com", "github.blog", "gitlab.com",
    "slack.com", "slackhq.com", "slack-status.com", "atlassian.com", "heroku.com",
    "herokustatus.com", "fastly.com", "fastlystatus.com", "akamai.com", "stripe.com", "discord.com",
    "discordstatus.com", "discordapp.com", "redditstatus.com", "reddit.com", "twitter.com", "x.com", "facebook.com",
    "meta.com", "fb.com", "apple.com", "dropbox.com", "dropbox.tech", "salesforce.com", "zoom.us", "datadoghq.com",
    "pagerduty.com", "digitalocean.com", "linode.com", "netflixtechblog.com", "spotify.com", "roblox.com",
    "travis-ci.com", "circleci.com", "basecamp.com", "monzo.com", "k8s.af", "sec.gov",
}
# Platforms that host many vendors' pages under their own subdomains: the subdomain is the source.
HOSTED = {"statuspage.io", "instatus.com", "status.io", "blogspot.com", "wordpress.com", "medium.com", "substack.com",
          "hashnode.dev", "netlify.app", "atlassian.net", "freshstatus.io", "betteruptime.com", "statuspal.io"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def source_key(url: str) -> str:
    """`github:<owner>` for GitHub, else the registered domain (two labels, three under a ccTLD's co/com/org/...)."""
    parsed = urlparse(url)
    host = parsed.netloc.lower().removeprefix("www.")
    if host in ("github.com", "gist.github.com"):
        return "github:" + parsed.path.strip("/").split("/")[0].lower()
    if host.endswith(".github.io"):
        return "github:" + host.split(".")[0]
    parts = host.split(".")
    if len(parts) >= 3 and ".".join(parts[-2:]) in HOSTED:  # vendor.statuspage.io is the vendor's, not the host's
        return ".".join(parts[-3:])
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in ("co", "com", "org", "net", "ac", "gov", "edu"):
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def record_problems(r: dict) -> list[str]:
    """Every way one record breaks the format of data/real/README.md."""
    if list(r) != list(KEYS):
        return [f"keys {list(r)} are not {list(KEYS)} in that order"]
    problems = []
    report = r["report"]
    if not isinstance(report, str) or not 40 <= len(report) <= MAX_CHARS:
        problems.append(f"report must be 40-{MAX_CHARS} characters")
        report = report if isinstance(report, str) else ""
    if r["source_kind"] not in KINDS:
        problems.append(f"source_kind {r['source_kind']!r} is not one of {', '.join(KINDS)}")
    if not str(r["source_url"]).startswith(("http://", "https://")):
        problems.append("source_url is not a URL")
    for field, allowed in triage.ENUMS.items():
        ok = r[f"{field}_ok"]
        if r[field] not in allowed or not isinstance(ok, list) or not set(ok) <= set(allowed) or r[field] not in ok \
                or len(set(ok)) != len(ok):
            problems.append(f"{field} {r[field]!r} / {field}_ok {ok!r}: values of {', '.join(allowed)}, the preferred "
                            "one inside the list, no repeats")
    services = r["affected_services"]
    if not isinstance(services, list) or not 1 <= len(services) <= 5:
        problems.append("affected_services must list 1-5 names")
    else:
        problems += [f"affected service {s!r} is not in the report" for s in services
                     if not isinstance(s, str) or not s.strip() or s.lower() not in report.lower()]
    if not isinstance(r["rationale"], str) or not r["rationale"].strip():
        problems.append("rationale is empty")
    if EMAIL.search(report):
        problems.append(f"report holds an e-mail address ({EMAIL.search(report).group(0)}): redact it")
    key = source_key(str(r["source_url"]))
    if key.removeprefix("github:") in RESERVED_OWNERS | RESERVED_DOMAINS or any(
            key == d or key.endswith("." + d) for d in RESERVED_DOMAINS):
        problems.append(f"source {key} is reserved for the independent check (or a big provider's write-up)")
    return problems


def near_duplicates(rows: list[dict], others: list[dict]) -> list[tuple[str, str, float]]:
    """(id, the id it copies, Jaccard) for every row at or above NEAR with an earlier row or with `others`."""
    index, found = gate.NearDuplicates(NEAR, 5), []
    for r in others:
        index.add(str(r["id"]), index.sketch(r["report"]))
    for r in rows:
        sketch = index.sketch(r["report"])
        if match := index.matches(sketch):
            found.append((str(r["id"]), match[0][0], round(match[0][1], 3)))
        index.add(str(r["id"]), sketch)
    return found


def check(path: Path, evaluation: tuple[Path, ...] = EVALUATION) -> list[str]:
    """Every problem of a training corpus, one line each ([] when it passes). `path` may itself be one of the
    evaluation files (checked against the others)."""
    rows = read_jsonl(path)
    held_out = [r for f in evaluation if Path(f).resolve() != Path(path).resolve() for r in read_jsonl(f)]
    problems = [f"{path}: {r.get('id')}: {p}" for r in rows for p in record_problems(r)]
    for field in ("id", "source_url"):
        counts = Counter(r.get(field) for r in rows)
        problems += [f"{path}: {field} {v!r} appears {n} times" for v, n in counts.items() if n > 1]
    keys = Counter(source_key(str(r.get("source_url"))) for r in rows)
    problems += [f"{path}: source {k} gives {n} records (at most {MAX_PER_SOURCE})"
                 for k, n in keys.items() if n > MAX_PER_SOURCE]
    evaluation_keys = {source_key(r["source_url"]): r["id"] for r in held_out}
    problems += [f"{path}: {r['id']}: source {k} is also the source of {evaluation_keys[k]} (evaluation or --against files)"
                 for r in rows if (k := source_key(str(r.get("source_url")))) in evaluation_keys]
    problems += [f"{path}: {a}: near duplicate of {b} (shingle Jaccard {j})" for a, b, j in near_duplicates(rows, held_out)]
    return problems


def merge(out: Path, parts: list[Path], seed: int = 20261206, append: bool = False, ids_out: Path | None = None) -> dict:
    """Annotators' part files -> one corpus: records that break the format, repeat a URL, come from an evaluation
    file's source, go past MAX_PER_SOURCE or copy an earlier text are dropped (each printed with its reason); the
    rest are shuffled (fixed seed) and numbered train-0001, ... With append, `out` is an existing corpus that keeps
    its records and ids (a second annotation refers to them): the new records are checked against it too and
    numbered after its last id. `ids_out`: a JSON object {part id: new id} of the kept records, for the files that
    name them by their part ids (a blind annotation, an adjudication). Returns the counts."""
    import random

    held_out = [r for f in EVALUATION for r in read_jsonl(f)]
    evaluation_keys = {source_key(r["source_url"]) for r in held_out}
    kept, urls, per_key, dropped = [], set(), Counter(), Counter()
    existing = read_jsonl(out) if append else []
    urls.update(r["source_url"] for r in existing)
    per_key.update(source_key(r["source_url"]) for r in existing)
    held_out += existing  # the near-duplicate check covers the corpus appended to
    for part in parts:
        for r in read_jsonl(part):
            key = source_key(str(r.get("source_url")))
            reason = ("format: " + "; ".join(p)) if (p := record_problems(r)) else (
                "repeated url" if r["source_url"] in urls else
                f"evaluation source {key}" if key in evaluation_keys else
                f"more than {MAX_PER_SOURCE} from {key}" if per_key[key] >= MAX_PER_SOURCE else None)
            if reason is None and (dup := near_duplicates([r], held_out + kept)):
                reason = f"near duplicate of {dup[0][1]} ({dup[0][2]})"
            if reason:
                dropped[reason.split(":")[0].split(" of ")[0]] += 1
                print(f"drop {part.name} {r.get('id')}: {reason}", file=sys.stderr)
                continue
            urls.add(r["source_url"])
            per_key[key] += 1
            kept.append(r)
    random.Random(seed).shuffle(kept)
    first = 1 + max((int(r["id"].rsplit("-", 1)[1]) for r in existing), default=0)
    renamed = [{**r, "id": f"train-{i:04d}"} for i, r in enumerate(kept, first)]
    if ids_out is not None:
        ids_out.write_text(json.dumps({r["id"]: n["id"] for r, n in zip(kept, renamed)}, indent=1) + "\n")
    kept = existing + renamed
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    return {"kept": len(kept) - len(existing), "total": len(kept), "dropped": dict(dropped)}


def agreement(a_path: Path, b_path: Path) -> dict:
    """Two annotations of the same ids: exact agreement on the preferred labels, each annotator's label inside the
    other's _ok list, and Cohen's kappa on the preferred labels (scikit-learn)."""
    from sklearn.metrics import cohen_kappa_score

    a = {r["id"]: r for r in read_jsonl(a_path)}
    b = [r for r in read_jsonl(b_path) if r["id"] in a]
    out = {"rows": len(b)}
    for field in triage.ENUMS:
        first, second = [a[r["id"]][field] for r in b], [r[field] for r in b]
        out[f"{field}_exact"] = round(sum(x == y for x, y in zip(first, second)) / len(b), 3)
        out[f"{field}_b_in_a_ok"] = round(sum(r[field] in a[r["id"]][f"{field}_ok"] for r in b) / len(b), 3)
        out[f"{field}_a_in_b_ok"] = round(sum(a[r["id"]][field] in r.get(f"{field}_ok", [r[field]]) for r in b) / len(b), 3)
        out[f"{field}_kappa"] = round(float(cohen_kappa_score(first, second)), 3)
        if field == "severity":  # severity is ordinal: how far apart the disagreements are
            levels = {s: i for i, s in enumerate(triage.SEVERITIES)}
            out["severity_within_one"] = round(sum(abs(levels[x] - levels[y]) <= 1 for x, y in zip(first, second)) / len(b), 3)
            out["severity_kappa_linear"] = round(float(cohen_kappa_score(first, second, weights="linear")), 3)
    return out


def rename(ids_path: Path, paths: list[Path]) -> dict:
    """The ids of each file's records through `merge --ids-out`'s map {part id: new id}, in place: what a staged
    round's blind annotation or adjudication needs once the round is appended. Ids the map does not name are kept
    (the corpus's own); a file naming a part id the map lacks (a record the merge dropped) is refused, all files
    untouched. Returns the renamed count per file."""
    ids = json.loads(ids_path.read_text())
    parts = {i.rsplit("-", 1)[0] for i in ids}  # r5a, r5b, ...: the prefixes a part id has
    files = {p: read_jsonl(p) for p in paths}
    lost = [r["id"] for rows in files.values() for r in rows if r["id"] not in ids and r["id"].rsplit("-", 1)[0] in parts]
    if lost:
        raise DataFileError(f"{ids_path}: no new id for {', '.join(lost[:5])}{', ...' if len(lost) > 5 else ''} "
                            "(dropped by the merge?): remove those lines first; nothing was changed")
    counts = {}
    for p, rows in files.items():
        counts[str(p)] = sum(r["id"] in ids for r in rows)
        p.write_text("".join(json.dumps({**r, "id": ids.get(r["id"], r["id"])}, ensure_ascii=False) + "\n" for r in rows),
                     encoding="utf-8")
    return counts


LABEL_FIELDS = ("severity", "severity_ok", "category", "category_ok")


def adjudicate(path: Path, decisions_path: Path) -> dict:
    """An adjudication's decisions (data/real/TRAIN.md: one line per record, its `severity_before` /
    `severity_ok_before` and the labels decided) written into the records of `path` that they name; decisions for
    ids not in `path` are left for another file (a staged round's parts). Refuses, changing nothing, when a named
    record no longer carries the labels the decision was made on (applied twice, or relabelled since), with one line
    naming the first such ids. Returns the counts."""
    decisions = {d["id"]: d for d in read_jsonl(decisions_path)}
    rows = read_jsonl(path)
    stale = [r["id"] for r in rows if (d := decisions.get(r["id"]))
             and (r["severity"], r["severity_ok"]) != (d["severity_before"], d["severity_ok_before"])]
    if stale:
        raise DataFileError(f"{decisions_path}: {len(stale)} records of {path} no longer carry the labels their "
                            f"decision was made on ({', '.join(stale[:5])}{', ...' if len(stale) > 5 else ''}); "
                            "was it applied already? Nothing was changed")
    changed = Counter()
    for r in rows:
        if d := decisions.get(r["id"]):
            new = {f: d.get(f, r[f]) for f in LABEL_FIELDS}
            if d["severity"] not in new["severity_ok"] or new["category"] not in new["category_ok"]:
                raise DataFileError(f"{decisions_path}: {r['id']}: the preferred label must be inside its _ok list")
            changed["severity"] += new["severity"] != r["severity"]
            changed["category"] += new["category"] != r["category"]
            changed["ok_lists_only"] += (new["severity"], new["category"]) == (r["severity"], r["category"]) and new != {
                f: r[f] for f in LABEL_FIELDS}
            r.update(new)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(path)  # whole or not at all
    return {"records": len(rows), "decided": sum(r["id"] in decisions for r in rows), **changed}


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    except DataFileError as e:  # a missing or unreadable file: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ftlab.data.corpus", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="every rule below; exit 1 with one line per problem")
    c.add_argument("paths", nargs="*", type=Path, default=[Path("data/real/train.jsonl")])
    c.add_argument("--against", action="append", type=Path, default=[], help="also disjoint from this file")
    m = sub.add_parser("merge", help="annotators' part files -> one file (ids renumbered)")
    m.add_argument("out", type=Path)
    m.add_argument("parts", nargs="+", type=Path)
    m.add_argument("--append", action="store_true", help="add them to OUT, an existing corpus (its ids kept)")
    m.add_argument("--ids-out", type=Path, help="write {part id: new id} of the kept records here (JSON)")
    a = sub.add_parser("agreement", help="two annotations of the same rows: agreement figures")
    a.add_argument("a", type=Path)
    a.add_argument("b", type=Path)
    n = sub.add_parser("rename", help="the ids of FILE's records through merge --ids-out's map, in place")
    n.add_argument("ids", type=Path)
    n.add_argument("paths", nargs="+", type=Path)
    j = sub.add_parser("adjudicate", help="an adjudication's labels into FILE, in place")
    j.add_argument("path", type=Path)
    j.add_argument("decisions", type=Path)
    return parser


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        problems = [p for path in args.paths for p in check(path, EVALUATION + tuple(args.against))]
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print(f"{len(problems)} problem(s) in {', '.join(map(str, args.paths))}")
        return 1 if problems else 0
    if args.command == "merge":
        print(json.dumps(merge(args.out, args.parts, append=args.append, ids_out=args.ids_out)))
        return 0
    if args.command == "rename":
        print(json.dumps(rename(args.ids, args.paths)))
        return 0
    if args.command == "adjudicate":
        print(json.dumps(adjudicate(args.path, args.decisions)))
        return 0
    print(json.dumps(agreement(args.a, args.b), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
