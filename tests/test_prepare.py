"""prepare's sources (local JSONL / CSV / Parquet files in each shape; hub ids only offline) and its data gate:
every kind of bad row lands in data/prepared/rejected.jsonl with its reason, duplicates and near-duplicates
are removed before the split, leakage is 0, and the metrics are flat."""
import json
import random
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ftlab import triage
from ftlab.data import gate, sources, synth
from ftlab.io import DataFileError, read_jsonl, write_jsonl
from ftlab.params import Prepare, PrepareSource
from tests.conftest import REPO, repo_params
from tests.test_stages import run_stage

WORDS = [w for w in (
    "alpha bravo cedar delta ember fjord glacier harbor island jungle kettle lantern meadow nectar orbit "
    "prairie quartz river summit tundra umber valley willow xenon yonder zephyr basalt canyon dune estuary "
    "forest geyser highland inlet lagoon mesa oasis plateau reef savanna steppe strait volcano marsh delta"
).split()]


def sentence(rng: random.Random, n=14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + "?"


def workdir(tmp_path, tiny_model_dir, **source):
    data = repo_params()
    data["train_lora"]["base_model"] = {"source": "local", "path": str(tiny_model_dir), "revision": None}
    data["prepare"]["source"].update(source)
    data["prepare"]["test_fraction"] = 0.2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def outputs(cwd):
    splits = {n: read_jsonl(cwd / f"data/prepared/{n}.jsonl") for n in ("train", "val", "test")}
    rejected = {r["id"]: r for r in read_jsonl(cwd / "data/prepared/rejected.jsonl")}
    stats = json.loads((cwd / "metrics/prepare.json").read_text())
    meta = json.loads((cwd / "data/prepared/meta.json").read_text())
    return splits, rejected, stats, meta


def test_gate_rejects_every_kind_of_bad_triage_row_with_its_reason(tmp_path, tiny_model_dir):
    cwd = workdir(tmp_path, tiny_model_dir, file="in/rows.jsonl")
    good = synth.generate(160, 7)
    first = max(good, key=lambda r: len(r["report"]))  # a long report: two changed letters leave it a near-duplicate
    bad = {
        "bad-json": dict(first, id="bad-json", report="Disk full on db-7.", triage='{"severity": "SEV3",'),
        "no-summary": dict(first, id="no-summary", report="Queue lag on billing-worker.",
                           triage={k: v for k, v in first["triage"].items() if k != "summary"}),
        "no-triage": {"id": "no-triage", "report": "search-api p99 at 9 s."},
        "wrong-label": dict(first, id="wrong-label", report="Login page 500s.", triage=dict(first["triage"], severity="P1")),
        "no-services": dict(first, id="no-services", report="CDN purge stuck.", triage=dict(first["triage"], affected_services=[])),
        "empty-report": dict(first, id="empty-report", report="  \n "),
        "exact-dup": dict(first, id="exact-dup", report="  " + first["report"].upper() + " "),
        "near-dup": dict(first, id="near-dup", report=first["report"].replace("a", "e", 2) + " Thanks."),
        "oversize": dict(first, id="oversize", report="The pager went off again and again. " * 300),
        good[1]["id"]: dict(good[2], id=good[1]["id"], report="A different report that reuses the id of another row."),
    }
    (cwd / "in").mkdir()
    write_jsonl(cwd / "in/rows.jsonl", good + list(bad.values()))
    run_stage("prepare", cwd)
    splits, rejected, stats, meta = outputs(cwd)

    expected = {"bad-json": "bad_json", "no-summary": "missing_field", "no-triage": "missing_field",
                "wrong-label": "wrong_label", "no-services": "invalid_answer", "empty-report": "empty_report",
                "exact-dup": "exact_duplicate", "near-dup": "near_duplicate", "oversize": "oversize"}
    assert {i: rejected[i]["reason"] for i in expected} == expected
    dup_id = [r for r in read_jsonl(cwd / "data/prepared/rejected.jsonl") if r["reason"] == "duplicate_id"]
    assert len(dup_id) == 1 and dup_id[0]["id"] == good[1]["id"] and dup_id[0]["detail"]
    assert all(r["detail"] and r["row"] for r in rejected.values())
    assert "with tpl-7" in rejected["near-dup"]["detail"] and "> train_lora.sft.max_length 1024" in rejected["oversize"]["detail"]

    kept = [r for split in splits.values() for r in split]
    assert len(kept) == len({r["id"] for r in kept}) == 160  # every good row, once
    assert {(r["severity"], r["category"]) for r in splits["test"]} == {(s, c) for s in triage.SEVERITIES for c in triage.CATEGORIES}
    assert all(triage.parse_strict(r["messages"][-1]["content"]) for r in kept)
    assert meta == {"task": "triage", "shape": "triage", "source": "in/rows.jsonl", "prompt": "short",
                    "answer_order": "spec", "real": str(REPO / "data/real/reports.jsonl"),
                    "real_train": str(REPO / "data/real/train.jsonl")}
    assert stats["task"] == "triage" and stats["rows_in"] == 170 and stats["rows_kept"] == 160
    assert stats["rows_rejected"] == 10 == sum(v for k, v in stats.items() if k.startswith("rejected_"))
    assert stats["rejected_missing_field"] == 2 and stats["rejected_duplicate_id"] == 1
    assert stats["duplicate_rate"] == round(2 / 170, 4) and stats["leakage"] == 0
    assert stats["test_rows"] == len(splits["test"]) == 32
    assert sum(stats[f"test_severity_{s}"] for s in triage.SEVERITIES) == 32 == 4 * stats["test_severity_SEV1"]
    assert sum(stats[f"train_category_{c}"] for c in triage.CATEGORIES) == stats["train_rows"]
    assert all(not isinstance(v, (dict, list)) for v in stats.values())  # flat keys for `dvc metrics show`


def generic_files(tmp_path) -> dict:
    """One small local file per generic shape, as the public sets lay them out, plus one bad row each."""
    rng = random.Random(0)
    rows = [(sentence(rng), sentence(rng, 20), ["open_qa", "brainstorming"][i % 2]) for i in range(40)]
    files = {
        # no_robots: prompt, prompt_id, messages (here with a system turn), category
        "chat.jsonl": [{"prompt": q, "prompt_id": f"p{i}", "category": c, "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a, c) in enumerate(rows)]
        + [{"prompt": "x", "prompt_id": "bad-roles", "messages": [{"role": "user", "content": "Hi there, friend"}]}],
        # databricks-dolly-15k: instruction, context, response, category
        "dolly.csv": [{"instruction": q, "context": "Some context." if i % 3 else "", "response": a, "category": c}
                      for i, (q, a, c) in enumerate(rows)]
        + [{"instruction": "Name a colour of the evening sky", "context": "", "response": "", "category": "open_qa"}],
        "pc.parquet": [{"prompt": q, "completion": a} for q, a, _ in rows]
        + [{"prompt": "Say something kind", "completion": None}],
    }
    (tmp_path / "in").mkdir(exist_ok=True)
    write_jsonl(tmp_path / "in/chat.jsonl", files["chat.jsonl"])
    pd.DataFrame(files["dolly.csv"]).to_csv(tmp_path / "in/dolly.csv", index=False)
    pd.DataFrame(files["pc.parquet"]).to_parquet(tmp_path / "in/pc.parquet")
    return files


@pytest.mark.parametrize("name, shape, bad_id, reason", [
    ("chat.jsonl", "messages", "bad-roles", "bad_roles"),
    ("dolly.csv", "dolly", "row40", "empty_turn"),
    ("pc.parquet", "prompt_completion", "row40", "empty_turn"),
])
def test_generic_shapes_load_from_local_files(tmp_path, name, shape, bad_id, reason):
    generic_files(tmp_path)
    source, raw = sources.load(PrepareSource(file=str(tmp_path / "in" / name)))
    assert sources.shape_of(source, raw, "auto") == shape and len(raw) == 41
    chats, rejects = [], {}
    for i, row in enumerate(raw):
        try:
            chats.append(sources.to_chat(row, shape, sources.row_id(row, i)))
        except sources.Reject as r:
            rejects[sources.row_id(row, i)] = r.reason
    assert rejects == {bad_id: reason} and len(chats) == 40
    for chat in chats:
        roles = [m["role"] for m in chat["messages"]]
        assert roles[-1] == "assistant" and "user" in roles and all(m["content"].strip() for m in chat["messages"])
    if shape == "messages":  # no_robots' own id and system turn are kept
        assert chats[0]["id"] == "p0" and chats[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    if shape == "dolly":  # instruction, blank line, context; without context the instruction alone
        assert chats[1]["messages"][0]["content"].endswith("?\n\nSome context.") and chats[0]["messages"][0]["content"].endswith("?")
    if shape == "prompt_completion":
        assert [m["role"] for m in chats[0]["messages"]] == ["user", "assistant"] and chats[0]["id"] == "row0"


def test_stage_on_a_dolly_csv_writes_generic_rows_split_by_category(tmp_path, tiny_model_dir):
    generic_files(tmp_path)
    run_stage("prepare", workdir(tmp_path, tiny_model_dir, file="in/dolly.csv"))
    splits, rejected, stats, meta = outputs(tmp_path)
    kept = [r for split in splits.values() for r in split]
    assert len(kept) == 40 and {r["category"] for r in kept} == {"open_qa", "brainstorming"}
    assert meta == {"task": "generic", "shape": "dolly", "source": "in/dolly.csv"}
    assert stats["task"] == "generic" and stats["rows_in"] == 41 and stats["rejected_empty_turn"] == 1
    assert rejected["row40"]["row"]["instruction"] == "Name a colour of the evening sky"
    assert stats["test_category_open_qa"] == stats["test_category_brainstorming"] == 4  # stratified by category
    assert stats["leakage"] == 0 and not any(k.startswith("test_severity") for k in stats)


@pytest.mark.parametrize("name, content, expected", [
    ("missing.csv", None, "missing.csv: not found (prepare.source.file)"),
    ("latin1.csv", "prompt,completion\ncaf\xe9,ok\n".encode("latin-1"), "latin1.csv: not UTF-8 text"),
    ("empty.jsonl", b"", "empty.jsonl: no rows (empty file)"),
    ("empty.csv", b"\n", "empty.csv: no rows (empty file)"),
    ("broken.jsonl", b'{"prompt": "a", "completion": "b"}\n{"prompt": \n', "broken.jsonl:2: not valid JSON"),
    ("broken.json", b'[{"prompt": "a"},', "broken.json: not a readable json file"),
    ("rows.txt", b"hello\n", "rows.txt: unknown file type '.txt'"),
    ("other.csv", b"question,answer\nq,a\n", "other.csv: unknown shape, columns found: question, answer"),
])
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, name, content, expected):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataFileError) as e:
        source = PrepareSource(file=str(tmp_path / name))
        text, rows = sources.load(source)
        sources.shape_of(text, rows, "auto")
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_stated_shape_must_fit_and_hub_ids_fail_clearly_offline(tmp_path, tiny_model_dir, monkeypatch):
    with pytest.raises(DataFileError, match=r"x.csv: prepare.source.shape is dolly but column\(s\) instruction, "
                                             r"response are missing; columns found: prompt, completion"):
        sources.shape_of("x.csv", [{"prompt": "a", "completion": "b"}], "dolly")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataFileError, match=r"prepare.source.hub databricks/databricks-dolly-15k .*cannot be loaded"):
        sources.load(PrepareSource(file="unused", hub="databricks/databricks-dolly-15k"))

    cwd = workdir(tmp_path, tiny_model_dir, file="in/other.csv")  # the stage: one line, non-zero exit
    (cwd / "in").mkdir()
    (cwd / "in/other.csv").write_text("question,answer\nq,a\n")
    result = run_stage("prepare", cwd, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: in/other.csv: unknown shape, columns found: question, answer")


def test_near_duplicates_are_found_by_jaccard_and_leakage_is_counted():
    rng = random.Random(1)
    base = " ".join(rng.choice(WORDS) for _ in range(40))
    words = base.split()
    close = " ".join(words[:-1] + ["zzz"])  # one word of 40 changed: Jaccard about 0.9
    far = " ".join(words[:20] + [rng.choice(WORDS) for _ in range(20)])  # half changed
    chats = [{"id": i, "messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "a"}]}
             for i, t in (("base", base), ("close", close), ("far", far), ("upper", base.upper()))]
    kept, rejected, index = gate.deduplicate(chats, sources.prompt_text, 0.8, 5)
    assert [c["id"] for c in kept] == ["base", "far"]
    assert [(c["id"], reason) for c, reason, _ in rejected] == [("close", "near_duplicate"), ("upper", "exact_duplicate")]

    # The leakage check itself can fail: a near-duplicate that skipped deduplication is counted.
    leaky = gate.NearDuplicates(0.8, 5)
    for chat in chats[:2]:
        leaky.add(chat["id"], leaky.sketch(sources.prompt_text(chat)))
    assert gate.leakage(leaky, train=chats[:1], test=chats[1:2]) == 1
    assert gate.leakage(index, train=kept[:1], test=kept[1:]) == 0


def test_lsh_banding_finds_pairs_at_the_threshold():
    for threshold in (0.5, 0.8, 0.9, 1.0):
        r = gate.rows_per_band(threshold)
        assert 1 - (1 - threshold ** r) ** (gate.NUM_PERM // r) >= 0.999
    assert gate.rows_per_band(0.8) == 4


def test_prepare_params_have_their_defaults_and_reject_bad_values():
    data = repo_params()["prepare"]
    p = Prepare.model_validate(data)
    assert p.source.file == "data/generated/rows.jsonl" and p.source.hub is None and p.source.shape == "auto"
    for section, key, value in (("source", "shape", "alpaca"), ("gate", "near_duplicate_threshold", 0.2)):
        bad = {**data, section: {**data[section], key: value}}
        with pytest.raises(Exception, match=key):
            Prepare.model_validate(bad)


def real_records(n: int) -> list[dict]:
    """The first n records of the real training corpus (data/real/TRAIN.md), as a test's own real_train file."""
    return read_jsonl(REPO / "data/real/train.jsonl")[:n]


def two_sources(tmp_path, tiny_model_dir, generated: list[dict], real: list[dict]):
    """A working directory whose prepare reads `generated` (prepare.source) and `real` (prepare.real_train), all of both."""
    cwd = workdir(tmp_path, tiny_model_dir, file="in/rows.jsonl")
    data = yaml.safe_load((cwd / "params.yaml").read_text())
    data["prepare"].update(real_train="in/real.jsonl", mix={"generated": None, "real": None})
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))
    (cwd / "in").mkdir()
    write_jsonl(cwd / "in/rows.jsonl", generated)
    write_jsonl(cwd / "in/real.jsonl", real)
    return cwd, data


def test_real_training_rows_reach_only_train_and_the_gate_refuses_evaluation_texts(tmp_path, tiny_model_dir):
    """Two sources: the real rows go to train only, tagged with their source and counted; a real training text
    that copies a report of either real evaluation file (held-out or development) is refused, never trained on."""
    held_out, dev = (read_jsonl(REPO / f"data/real/{name}.jsonl") for name in ("reports", "dev"))
    good = real_records(12)
    copied = [dict(good[0], id="copies-eval", report=held_out[5]["report"]),
              dict(good[1], id="copies-dev", report="  " + dev[7]["report"].upper()),
              dict(good[2], id="near-eval", report=held_out[9]["report"] + " Any update?"),
              dict(good[3], id="no-rationale", rationale="")]
    cwd, data = two_sources(tmp_path, tiny_model_dir, synth.generate(160, 7), good + copied)
    run_stage("prepare", cwd)
    splits, rejected, stats, meta = outputs(cwd)

    assert {i: rejected[i]["reason"] for i in ("copies-eval", "copies-dev", "near-eval", "no-rationale")} == {
        "copies-eval": "real_overlap", "copies-dev": "real_overlap", "near-eval": "real_overlap",
        "no-rationale": "missing_field"}
    assert "data/real/reports.jsonl real-006" in rejected["copies-eval"]["detail"]
    assert "data/real/dev.jsonl dev-008" in rejected["copies-dev"]["detail"]
    assert all(rejected[i]["source"] == "real" for i in ("copies-eval", "copies-dev", "near-eval", "no-rationale"))
    real_ids = {r["id"] for r in good}
    assert {r["id"] for r in splits["train"] if r["source"] == "real"} == real_ids
    assert all(r["source"] == "generated" for name in ("val", "test") for r in splits[name])
    assert not real_ids & {r["id"] for name in ("val", "test") for r in splits[name]}
    by_id = {r["id"]: r for r in splits["train"]}
    for record in good:  # the answer is built from the record's labels, and conforms to the spec
        answer = triage.parse_strict(by_id[record["id"]]["messages"][-1]["content"])
        assert (answer["severity"], answer["category"]) == (record["severity"], record["category"])
        assert answer["affected_services"] == record["affected_services"] and answer["summary"] == record["rationale"]
        assert by_id[record["id"]]["messages"][-2]["content"] == record["report"]
    assert stats["real_train_rows_in"] == 16 and stats["real_rows_kept"] == 12 and stats["real_rows_rejected"] == 4
    assert stats["train_rows_real"] == 12 and stats["test_rows_real"] == stats["val_rows_real"] == 0
    assert stats["train_rows_generated"] + stats["test_rows_generated"] + stats["val_rows_generated"] == 160
    assert meta["real_train"] == "in/real.jsonl"

    # Shares: N rows of each source, the same first rows at every N (nested subsets for the scaling curve).
    data["prepare"]["mix"] = {"generated": 10, "real": 5}
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))
    run_stage("prepare", cwd)
    five = outputs(cwd)[0]
    data["prepare"]["mix"] = {"generated": 0, "real": 3}
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))
    run_stage("prepare", cwd)
    three, _, stats, _ = outputs(cwd)
    assert [r["source"] for r in five["train"]].count("generated") == 10 and len(five["train"]) == 15
    assert [r["id"] for r in three["train"]] == [r["id"] for r in five["train"] if r["source"] == "real"][:3]
    assert three["test"] == splits["test"] and three["val"] == splits["val"]  # the generated evaluation split stays
    assert stats["train_rows"] == stats["train_rows_real"] == 3 and stats["train_rows_generated"] == 0


def test_a_real_corpus_file_with_bad_labels_stops_prepare_naming_the_line(tmp_path, tiny_model_dir):
    cwd, data = two_sources(tmp_path, tiny_model_dir, synth.generate(32, 7),
                            [*real_records(2), dict(real_records(3)[2], severity="P1")])
    result = run_stage("prepare", cwd, check=False)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith("error: in/real.jsonl: line 3")
    assert "severity" in result.stderr and "Traceback" not in result.stderr
    data["prepare"]["mix"]["real"] = 0  # off: the file is not read
    (cwd / "params.yaml").write_text(yaml.safe_dump(data))
    run_stage("prepare", cwd)


def test_the_committed_real_corpus_passes_its_checks():
    """data/real/train.jsonl: the record format, no evaluation file's source (GitHub owner or vendor domain), no
    near duplicate of an evaluation text, at most 3 records a source, nothing from the reserved list."""
    from ftlab.data import corpus

    assert corpus.check(REPO / "data/real/train.jsonl", tuple(REPO / p for p in corpus.EVALUATION)) == []
    assert len(read_jsonl(REPO / "data/real/train.jsonl")) >= 600


def test_every_second_annotation_refers_to_records_of_the_corpus():
    """The blind second annotations (TRAIN.md) name rows of train.jsonl by id, so the agreement command reads them."""
    ids = {r["id"] for r in read_jsonl(REPO / "data/real/train.jsonl")}
    for name in ("train_labels_b.jsonl", "train_labels_b_round3.jsonl", "train_labels_b_round4.jsonl"):
        labels = read_jsonl(REPO / "data/real" / name)
        assert labels and {r["id"] for r in labels} <= ids, name


def test_the_staged_fifth_round_passes_the_corpus_checks_against_it_and_each_other():
    """data/real/round5/ (TRAIN.md "Fifth round", staged until a fine-tune is measured with it): each part disjoint
    from train.jsonl, every evaluation file and the other parts, so appending it keeps the corpus's rules; its blind
    second annotation names rows of the parts; its severity adjudication is what the parts carry."""
    from ftlab import triage
    from ftlab.data import corpus

    train, parts = REPO / "data/real/train.jsonl", sorted((REPO / "data/real/round5").glob("part-*.jsonl"))
    assert len(parts) == 4
    for part in parts:
        others = tuple(p for p in parts if p != part)
        assert corpus.check(part, (train, *others, *(REPO / p for p in corpus.EVALUATION))) == [], part.name
    ids = {r["id"] for p in parts for r in read_jsonl(p)}
    labels = read_jsonl(REPO / "data/real/round5/labels_b.jsonl")
    assert len(labels) >= 80 and {r["id"] for r in labels} <= ids
    # its severity adjudication (applied before staging): every decision is what its record carries, never lowered
    records = {r["id"]: r for p in parts for r in read_jsonl(p)}
    for d in read_jsonl(REPO / "data/real/round5/adjudication.jsonl"):
        r = records[d["id"]]
        assert (r["severity"], r["severity_ok"], r["category"]) == (d["severity"], d["severity_ok"], d["category"]), d["id"]
        assert d["severity"] in d["severity_ok"] and triage.SEVERITIES.index(d["severity"]) <= triage.SEVERITIES.index(d["severity_before"])


def test_the_second_adjudication_is_what_the_corpus_carries():
    """data/real/adjudication_edges.jsonl (TRAIN.md "Second severity adjudication", applied 2026-12-08): one decision
    per record of the corpus, whose labels are the record's labels now; each made on an outage / degradation record
    labelled SEV3 or SEV4, a valid label inside its own _ok list, never lowered; and the fourth round is in the corpus
    (its blind labels name its rows)."""
    from ftlab import triage

    records = {r["id"]: r for r in read_jsonl(REPO / "data/real/train.jsonl")}
    decisions = read_jsonl(REPO / "data/real/adjudication_edges.jsonl")
    assert len({d["id"] for d in decisions}) == len(decisions) >= 500
    for d in decisions:
        r = records[d["id"]]
        assert (r["severity"], r["severity_ok"], r["category"]) == (d["severity"], d["severity_ok"], d["category"]), d["id"]
        assert d["severity_before"] in ("SEV3", "SEV4") and d["category"] in ("outage", "degradation"), d["id"]
        assert d["severity"] in d["severity_ok"] and set(d["severity_ok"]) <= set(triage.SEVERITIES), d["id"]
        assert triage.SEVERITIES.index(d["severity"]) <= triage.SEVERITIES.index(d["severity_before"]), d["id"]
    assert len(records) >= 1800 and len(read_jsonl(REPO / "data/real/train_labels_b_round4.jsonl")) >= 100


def test_adjudicate_writes_the_decided_labels_once_and_refuses_a_second_time(tmp_path):
    """`python -m ftlab.data.corpus adjudicate FILE DECISIONS`: the decisions' labels replace the named records',
    ids of another file are left alone, and a decision made on labels the record no longer has (applied twice)
    is refused with one line, the file untouched."""
    from ftlab.data import corpus

    rows = real_records(3)
    rows[0].update(severity="SEV3", severity_ok=["SEV3"], category="outage", category_ok=["outage"])
    write_jsonl(tmp_path / "train.jsonl", rows)
    decisions = [{"id": rows[0]["id"], "severity_before": "SEV3", "severity_ok_before": ["SEV3"], "severity": "SEV2",
                  "severity_ok": ["SEV2", "SEV3"], "category": "outage", "category_ok": ["outage"], "rule": 3, "why": "w"},
                 {"id": "r4a-001", "severity_before": "SEV4", "severity_ok_before": ["SEV4"], "severity": "SEV3",
                  "severity_ok": ["SEV3"], "category": "outage", "category_ok": ["outage"], "rule": 5, "why": "w"}]
    write_jsonl(tmp_path / "decisions.jsonl", decisions)
    assert corpus.main(["adjudicate", str(tmp_path / "train.jsonl"), str(tmp_path / "decisions.jsonl")]) == 0
    after = read_jsonl(tmp_path / "train.jsonl")
    assert (after[0]["severity"], after[0]["severity_ok"]) == ("SEV2", ["SEV2", "SEV3"])
    assert after[1:] == rows[1:]
    before = (tmp_path / "train.jsonl").read_bytes()
    with pytest.raises(DataFileError, match=f"1 records of .* no longer carry .*{rows[0]['id']}.*applied already"):
        corpus.adjudicate(tmp_path / "train.jsonl", tmp_path / "decisions.jsonl")
    assert (tmp_path / "train.jsonl").read_bytes() == before


def test_merge_appends_new_records_after_the_corpus_and_maps_their_part_ids(tmp_path):
    """`merge OUT PART... --append --ids-out MAP`: the corpus keeps its records and ids, the parts' records are
    numbered after its last id, a repeated URL is dropped, and MAP names each kept record's new id (what a blind
    annotation or an adjudication of the part needs to follow it)."""
    from ftlab.data import corpus

    records = real_records(4)
    write_jsonl(tmp_path / "train.jsonl", records[:2])
    part = [dict(records[2], id="r9a-001"), dict(records[3], id="r9a-002"), dict(records[0], id="r9a-003")]
    write_jsonl(tmp_path / "part-a.jsonl", part)
    assert corpus.main(["merge", str(tmp_path / "train.jsonl"), str(tmp_path / "part-a.jsonl"), "--append",
                        "--ids-out", str(tmp_path / "ids.json")]) == 0
    merged = read_jsonl(tmp_path / "train.jsonl")
    assert merged[:2] == records[:2] and len(merged) == 4  # r9a-003 repeats a corpus URL
    ids = json.loads((tmp_path / "ids.json").read_text())
    last = int(records[1]["id"].rsplit("-", 1)[1])
    assert sorted(ids) == ["r9a-001", "r9a-002"] and sorted(ids.values()) == [f"train-{last + 1:04d}", f"train-{last + 2:04d}"]
    by_id = {r["id"]: r for r in merged}
    assert all(by_id[new]["source_url"] == next(r for r in part if r["id"] == old)["source_url"] for old, new in ids.items())


def test_rename_carries_a_blind_annotation_over_to_the_merged_ids_and_refuses_a_dropped_record(tmp_path):
    """`rename MAP FILE...` after `merge --ids-out MAP`: part ids become the corpus ids the merge gave them, the
    corpus's own ids stay; a line naming a part record the merge dropped is refused, every file untouched."""
    from ftlab.data import corpus

    (tmp_path / "ids.json").write_text(json.dumps({"r9a-001": "train-0003", "r9a-002": "train-0004"}))
    labels = [{"id": "r9a-002", "severity": "SEV2"}, {"id": "train-0001", "severity": "SEV3"}]
    write_jsonl(tmp_path / "labels_b.jsonl", labels)
    assert corpus.main(["rename", str(tmp_path / "ids.json"), str(tmp_path / "labels_b.jsonl")]) == 0
    assert [r["id"] for r in read_jsonl(tmp_path / "labels_b.jsonl")] == ["train-0004", "train-0001"]
    write_jsonl(tmp_path / "adjudication.jsonl", [{"id": "r9a-001"}, {"id": "r9a-003"}])  # r9a-003: dropped
    before = (tmp_path / "adjudication.jsonl").read_bytes()
    with pytest.raises(DataFileError, match="no new id for r9a-003"):
        corpus.rename(tmp_path / "ids.json", [tmp_path / "adjudication.jsonl"])
    assert (tmp_path / "adjudication.jsonl").read_bytes() == before


def test_the_second_development_part_shares_no_source_with_any_training_or_evaluation_file():
    """data/real/dev2.jsonl (DEV.md "Second part") is never trained on: no source and no near duplicate in common with
    train.jsonl, the staged fifth round, reports.jsonl or dev.jsonl; and the corpus check of train.jsonl covers it."""
    from ftlab.data import corpus

    dev2 = REPO / "data/real/dev2.jsonl"
    assert Path("data/real/dev2.jsonl") in corpus.EVALUATION
    others = (REPO / "data/real/train.jsonl", *sorted((REPO / "data/real/round5").glob("part-*.jsonl")),
              *(REPO / p for p in corpus.EVALUATION))
    assert corpus.check(dev2, others) == []  # itself among the evaluation files: checked against the others only
    assert len(read_jsonl(dev2)) >= 100


def test_the_corpus_check_finds_each_kind_of_problem(tmp_path):
    from ftlab.data import corpus

    good = real_records(3)
    held_out = read_jsonl(REPO / "data/real/reports.jsonl")
    bad = [dict(good[0], id="x1", source_url="https://github.com/danluu/post-mortems/issues/1"),
           dict(good[1], id="x2", affected_services=["not in the text at all"]),
           dict(good[2], id="x3", report=held_out[0]["report"], source_url="https://example.org/a"),
           dict(good[2], id="x4", source_url=held_out[1]["source_url"] + "#again"),
           dict(good[2], id="x5", severity="SEV1", severity_ok=["SEV2"], source_url="https://example.net/b"),
           {**{k: v for k, v in good[2].items() if k != "licence"}, "id": "x6"}]
    write_jsonl(tmp_path / "bad.jsonl", bad)
    problems = "\n".join(corpus.check(tmp_path / "bad.jsonl", tuple(REPO / p for p in corpus.EVALUATION)))
    for expected in ("x1: source github:danluu is reserved", "x2: affected service 'not in the text at all'",
                     "x3: near duplicate of real-001", "x4: source", "x5: severity 'SEV1'", "x6: keys"):
        assert expected in problems, expected
    assert corpus.source_key("https://acme.statuspage.io/incidents/1") == "acme.statuspage.io"
    assert corpus.source_key("https://status.example.co.uk/x") == "example.co.uk"


def test_merge_append_keeps_the_corpus_and_its_ids_and_checks_new_records_against_it(tmp_path, monkeypatch):
    """A second round of annotation is appended: the existing records keep their ids (a blind second annotation
    refers to them), and a new record repeating an existing URL or copying an existing text is dropped."""
    from ftlab.data import corpus

    monkeypatch.chdir(REPO)  # the evaluation files are found from the repository root
    records = real_records(8)
    existing = [dict(r, id=f"train-{i:04d}") for i, r in enumerate(records[:5], 1)]
    write_jsonl(tmp_path / "train.jsonl", existing)
    part = [dict(r, id=f"r-{i}") for i, r in enumerate(records[5:])]
    part += [dict(records[1], id="r-url"), dict(records[2], id="r-text", source_url="https://example.org/copy")]
    write_jsonl(tmp_path / "part.jsonl", part)
    counts = corpus.merge(tmp_path / "train.jsonl", [tmp_path / "part.jsonl"], append=True)
    merged = read_jsonl(tmp_path / "train.jsonl")
    assert counts["kept"] == 3 and counts["total"] == 8 and counts["dropped"] == {"repeated url": 1, "near duplicate": 1}
    assert merged[:5] == existing
    assert sorted(r["id"] for r in merged[5:]) == ["train-0006", "train-0007", "train-0008"]
    assert sorted(r["source_url"] for r in merged[5:]) == sorted(r["source_url"] for r in records[5:])


def test_the_corpus_command_takes_help_and_flags_as_flags_never_as_file_names(tmp_path, monkeypatch, capsys):
    """`merge --help` once wrote the merged corpus to a file named `--help`: flags are parsed, never paths."""
    from ftlab.data import corpus

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        corpus.main(["merge", "--help"])
    assert e.value.code == 0 and "--append" in capsys.readouterr().out and list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit) as e:
        corpus.main(["merge", "out.jsonl"])  # no part file: a usage error naming what is missing
    assert e.value.code == 2 and "parts" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_interleave_keeps_each_order_and_spreads_in_proportion():
    mixed = gate.interleave([f"g{i}" for i in range(6)], [f"r{i}" for i in range(3)])
    assert [x for x in mixed if x[0] == "g"] == [f"g{i}" for i in range(6)] and [x for x in mixed if x[0] == "r"] == ["r0", "r1", "r2"]
    assert all(1 <= sum(x[0] == "r" for x in mixed[k:k + 3]) for k in range(0, 9, 3))  # every third row is real
    assert gate.interleave([1, 2], []) == [1, 2] and gate.interleave([], [3]) == [3]
