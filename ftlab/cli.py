"""ftlab predict / ftlab score / ftlab merge: the triage model on your own reports, metrics for any
predictions, and an adapter merged into its base as a standalone model.

    ftlab predict reports.jsonl -o predictions.jsonl --adapter models/lora
    ftlab score predictions.jsonl labels.jsonl -o scores.json
    ftlab merge --adapter models/lora -o models/merged-lora --check 16

reports.jsonl: one {"id": ..., "report": "..."} per line (id optional: the line number).
labels.jsonl:  one {"id": ..., "severity": ..., "category": ..., "affected_services": [...]} per line, any of the
three fields may be left out of every row (only what is labelled is scored), optionally "severity_ok" /
"category_ok" (every answer accepted where more than one is defensible) and "report" (else the prediction
row's report is used for faithfulness and the --train baselines). ftlab/data/labels.py checks it.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from tabulate import tabulate

from ftlab import models, triage
from ftlab.data import labels

from ftlab.eval import baselines, generation, metrics
from ftlab.io import DataFileError, read_jsonl, write_json
from ftlab.stage import exit_on_error
from ftlab.params import BaseModelSpec


def base_spec(text: str) -> BaseModelSpec:
    """SOURCE:PATH[@REVISION], e.g. embedded:smollm2-135m-instruct, local:/models/qwen, hub:Qwen/Qwen2.5-0.5B-Instruct@<sha>."""
    source, _, rest = text.partition(":")
    path, _, revision = rest.partition("@")
    try:
        return BaseModelSpec(source=source, path=path, revision=revision or None)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SOURCE:PATH[@REVISION] with SOURCE one of "
                                         f"embedded, gguf, local, hub ({e.errors()[0]['msg']})") from None


def count(least: int):
    """An argparse type: an integer of at least `least` (a batch size of 0 or -3 is refused here, by name, rather
    than deep inside generation as a traceback)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {least} or more")
        return value
    parse.__name__ = f"integer >= {least}"  # argparse names the type in its message
    return parse


def _dvc_outs(root: Path = Path(".")) -> list[Path]:
    """Every out, metric and plot file that dvc.yaml in `root` declares: DVC replaces or deletes them."""
    import yaml

    dvc_yaml = root / "dvc.yaml"
    if not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    outs = []
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                outs.append(root / (next(iter(entry)) if isinstance(entry, dict) else entry))
    return outs


def refuse_overlap(output: Path, inputs: dict[str, Path]) -> None:
    """Stop before any work when `output` is, contains or lies inside an input or a DVC out: writing it would
    replace or delete what it was made from (`ftlab merge -o models` once removed models/lora and models/qlora)."""
    out = Path(output).resolve()
    protected = {**{f"the {what} {path}": Path(path) for what, path in inputs.items() if path is not None},
                 **{f"the DVC out {path}": path for path in _dvc_outs()}}
    for what, path in protected.items():
        p = path.resolve()
        if out == p or out in p.parents or p in out.parents:
            relation = "is" if out == p else "contains" if out in p.parents else "lies inside"
            raise DataFileError(f"-o {output}: {relation} {what}; write to a path outside it")


def writable_output(output: Path, kind: str = "file") -> None:
    """Stop before a model loads when `output` cannot be written: its folder is a file or missing parts of the path
    are files, it is a directory where a file is wanted, or the folder is not writable."""
    out = Path(output)
    if kind == "file" and out.is_dir():
        raise DataFileError(f"-o {output}: is a directory; give a file path for the output")
    parent = next((p for p in [out.parent, *out.parent.parents] if p.exists()), Path("."))
    if not parent.is_dir():
        raise DataFileError(f"-o {output}: {parent} is a file, not a folder; choose an output path in a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataFileError(f"-o {output}: the folder {parent} is not writable; choose another output path")


def writable_cache() -> None:
    """Stop before a model loads when FTLAB_CACHE cannot be a writable folder (models.cache_dir says why)."""
    models.cache_dir()


def writable_outs(dvc_yaml: Path = Path("dvc.yaml")) -> None:
    """Every stage's outs (outs, metrics, plots) must be writable where they go. DVC deletes a stage's previous outs
    before it runs the command, so a stage that then fails on a read-only folder has lost them: checked here, before
    `dvc repro` starts (`make repro` runs `ftlab check` first)."""
    import yaml

    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {}) if dvc_yaml.is_file() else {}
    for name, stage in stages.items():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                out = Path(next(iter(entry)) if isinstance(entry, dict) else entry)
                folder = out if out.is_dir() else out.parent
                existing = next((f for f in [folder, *folder.parents] if f.exists()), Path("."))
                if not existing.is_dir():
                    raise DataFileError(f"{dvc_yaml}: stage {name} writes {out}, but {existing} is a file, not a "
                                        "folder: move it away and run again")
                if not os.access(existing, os.W_OK | os.X_OK):
                    raise DataFileError(f"{dvc_yaml}: stage {name} writes {out}, but the folder {existing} is not "
                                        f"writable, and DVC deletes the previous {out} before the stage runs: "
                                        f"make it writable (chmod u+w {existing}) and run again")


def refuse_clobber(output: Path, marker: str, force: bool) -> None:
    """Stop before any work when `output` exists and is not an earlier output of the same command (a directory
    holding `marker`) or an empty directory: replacing it would delete the user's file or folder (`ftlab merge -o
    results.csv` once put a model where the file was). --force replaces it anyway."""
    out = Path(output)
    if force or not (out.exists() or out.is_symlink()):
        return
    if out.is_dir() and not out.is_symlink() and ((out / marker).is_file() or not any(out.iterdir())):
        return
    kind = "a directory" if out.is_dir() else "a file"
    raise DataFileError(f"-o {output}: exists and is {kind} that ftlab did not write (no {marker}); replacing it would "
                        "delete it: choose a new path, or pass --force to replace it")


def _exists(path: Path, what: str) -> Path:
    if not Path(path).exists():
        raise DataFileError(f"{path}: {what} does not exist")
    return path


def _adapter(path: Path) -> Path:
    """An adapter directory whose files can be read (models.check_adapter), checked before a model loads."""
    _exists(path, "the adapter directory")
    models.check_adapter(path)
    return path


def _reports(path: Path) -> list[dict]:
    rows = read_jsonl(_exists(path, "the reports file"), numbered=True)
    if not rows:
        raise DataFileError(f"{path}: no rows; expected one {{\"id\": ..., \"report\": \"...\"}} per line")
    out = []
    for number, row in rows:  # a row without an id is named by its line number, blank lines counted
        report = row.get("report")
        if not isinstance(report, str) or not report.strip():
            raise DataFileError(f"{path}: line {number}: field 'report' must be a non-empty string (got {report!r:.60})")
        try:  # JSON's \ud800 escapes decode to lone surrogates, which no tokenizer or UTF-8 file can take
            report.encode("utf-8")
        except UnicodeEncodeError as e:
            raise DataFileError(f"{path}: line {number}: field 'report' holds {report[e.start]!r} at character "
                                f"{e.start}, half of a UTF-16 pair that encodes no character; remove it or fix the "
                                "escape") from None
        out.append({"id": row.get("id", number), "report": report})
    if len({r["id"] for r in out}) != len(out):
        raise DataFileError(f"{path}: ids are not unique; give each row its own 'id'")
    return out


def predict(args) -> None:
    refuse_overlap(args.output, {"reports file": args.reports, "adapter": args.adapter})
    writable_output(args.output)
    writable_cache()
    reports = _reports(args.reports)
    if args.adapter:
        _adapter(args.adapter)
        model, tokenizer = models.load_for_inference(args.adapter, base=args.base)
        info = models.adapter_info(args.adapter)  # the prompt it was trained with and the label values it writes
        style, values = info["prompt"], info["label_values"]
    else:
        spec = args.base or BaseModelSpec(source="embedded", path="smollm2-135m-instruct")
        (model, tokenizer), style, values = models.load_base(spec), "rubric", "spec"  # a base needs the rules spelled out
        from ftlab.merge import MERGE_FILE

        merged = Path(spec.path) / MERGE_FILE if spec.source == "local" else None
        if merged is not None and merged.is_file():  # a model `ftlab merge` wrote: asked as its adapter was
            info = json.loads(merged.read_text())
            style, values = info.get("prompt", style), info.get("label_values", values)
    done = _resume(args.output, reports)
    todo = reports[len(done):]
    if done:
        print(f"resuming {args.output}: {len(done)} of {len(reports)} rows already written", file=sys.stderr)
    conformant, started = sum(r["format_conformance"] for r in done), time.perf_counter()
    chunk = args.batch_size * 4  # rows decoded, then written, at a time: a kill loses at most this many
    out = None  # opened at the first rows to write: a run that fails on its first chunk leaves no file
    try:
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            # Prompts are built and tokenized per chunk: 100,000 rows do not wait for each other's tokenization.
            try:
                replies = generation.generate(model, tokenizer, [triage.prompt(r["report"], style) for r in part],
                                              args.max_new_tokens, args.batch_size, desc="predict",
                                              constrain=None if args.free else triage.enums(values), progress=False)
            except generation.PromptTooLong as e:
                written = len(done) + start
                raise DataFileError(f"{args.reports}: row {written + e.index + 1}: the report is too long for the model: "
                                    f"{e.tokens} tokens with the prompt, and with --max-new-tokens {args.max_new_tokens} "
                                    f"more than its context of {e.context} tokens; shorten or split it"
                                    + (f" ({written} rows before it are in {args.output}; run the same command again "
                                       "to go on)" if written else "")) from None
            out = out or open(args.output, "a", encoding="utf-8")
            for r, (text, _) in zip(part, replies):
                text = triage.to_spec(text, values)  # the spec's label values, whatever it was trained on
                row = {"id": r["id"], "report": r["report"], "output": text, "prediction": triage.parse_lenient(text),
                       "format_conformance": triage.parse_strict(text) is not None}
                conformant += row["format_conformance"]
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            written = start + len(part)
            rate = written / (time.perf_counter() - started)
            print(f"predict: {len(done) + written}/{len(reports)} rows, {rate:.2f} rows/s, "
                  f"about {_duration((len(todo) - written) / rate)} left", file=sys.stderr, flush=True)
    finally:
        if out is not None:
            out.close()
    print(f"wrote {len(reports)} predictions to {args.output} ({conformant} spec-conformant)", file=sys.stderr)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _resume(output: Path, reports: list[dict]) -> list[dict]:
    """The rows an earlier, interrupted `ftlab predict` with the same reports already wrote to `output` (their ids
    and reports must be the first rows of the reports file, in order); a cut-off last line is dropped. An output
    holding anything else is refused, not overwritten."""
    output = Path(output)
    if not output.exists():
        return []
    if not output.is_file():
        raise DataFileError(f"-o {output}: is not a file; give a file path for the predictions")
    data = output.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1].strip():  # killed in the middle of a line: keep the whole lines only
        data = b"\n".join(lines[:-1]) + (b"\n" if len(lines) > 1 else b"")
        output.write_bytes(data)
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError):
        rows = None
    if rows is None or len(rows) > len(reports) or any(
            not isinstance(row, dict) or row.get("id") != r["id"] or row.get("report") != r["report"] or "output" not in row
            for row, r in zip(rows, reports)):
        raise DataFileError(f"-o {output}: exists and is not an earlier run of this command on these reports; "
                            "choose a new path, or delete it to start again")
    return rows


def _predictions(path: Path) -> dict:
    predictions = {}
    for number, row in read_jsonl(path, numbered=True):
        if "id" not in row or not isinstance(row.get("output"), str):
            raise DataFileError(f"{path}: line {number}: needs 'id' and the raw model text in 'output' "
                                "(as `ftlab predict` writes)")
        if str(row["id"]) in predictions:
            raise DataFileError(f"{path}: line {number}: id {row['id']!r} is predicted twice; keep one row per id")
        predictions[str(row["id"])] = row
    return predictions


def score(args) -> None:
    if args.output:
        refuse_overlap(args.output, {"predictions file": args.predictions, "labels file": args.labels,
                                     "training file": args.train})
        writable_output(args.output)
    gold_rows, fields = labels.read(_exists(args.labels, "the labels file"))
    _exists(args.predictions, "the predictions file")
    predictions = _predictions(args.predictions)
    missing = [g["id"] for g in gold_rows if str(g["id"]) not in predictions]
    if missing:
        raise DataFileError(f"{args.predictions}: no prediction for {len(missing)} labelled ids, e.g. {missing[:3]}")
    extra = len(set(predictions) - {str(g["id"]) for g in gold_rows})
    if extra:
        print(f"note: {extra} predictions have no label and are not scored", file=sys.stderr)
    if skipped := labels.skipped_metrics(fields):
        print(f"note: {args.labels} labels only {', '.join(fields) or 'no field'}; not scored: {', '.join(skipped)}",
              file=sys.stderr)
    reports = [g.get("report") or predictions[str(g["id"])].get("report") or "" for g in gold_rows]
    scored = {"model": [{"id": g["id"], **metrics.score_row(predictions[str(g["id"])]["output"], g, r)}
                        for g, r in zip(gold_rows, reports)]}
    if args.train:  # the reference points: what the majority class and a bag of words get on the same reports
        if not all(reports):
            raise DataFileError(f"{args.labels}: --train needs each report's text (a 'report' field in the labels or "
                                "the predictions)")
        if not {"severity", "category"} <= set(fields):
            raise DataFileError(f"{args.labels}: --train fits baselines of severity and category; the labels lack "
                                f"{', '.join(sorted({'severity', 'category'} - set(fields)))}")
        train_rows = [r for r in read_jsonl(args.train) if all(isinstance(r.get(f), str) for f in ("severity", "category"))]
        if not train_rows:
            raise DataFileError(f"{args.train}: no rows with 'severity' and 'category' to fit the baselines on "
                                "(data/prepared/train.jsonl has them)")
        for kind, predicted in baselines.predict(baselines.fit_all(train_rows), [{"report": r} for r in reports]).items():
            scored[kind] = [{"id": g["id"], **metrics.score_labels(pred, g)} for g, pred in zip(gold_rows, predicted)]
    names = (*metrics.METRICS, *metrics.EXACT_METRICS)
    result = {name: metrics.aggregate(rows, names) for name, rows in scored.items()}
    if "severity" in fields:
        result["model"]["severity_confusion"] = metrics.severity_confusion(scored["model"])
    kinds = [k for k in metrics.BASELINES if k in scored]
    for kind in kinds:
        result[f"model_vs_{kind}"] = metrics.compare(scored[kind], scored["model"], (*metrics.LABEL_METRICS, *metrics.EXACT_METRICS))
    if args.output:
        write_json(args.output, result if kinds else result["model"])
    table = []
    for m in (*names, "severity_macro_f1"):
        if m not in result["model"]:
            continue
        low, high = result["model"].get(m + "_ci_low"), result["model"].get(m + "_ci_high")
        row = [m, result["model"][m], f"[{low}, {high}]" if low is not None else ""]
        for kind in kinds:
            d = result[f"model_vs_{kind}"]
            row += [result[kind].get(m, ""), f"{d[m]:+.3f} [{d[m + '_ci_low']:+.3f}, {d[m + '_ci_high']:+.3f}]" if m in d else ""]
        table.append(row)
    heads = ["metric", f"mean over {len(gold_rows)} rows", "bootstrap 95% CI", *(h for k in kinds for h in (k, f"model − {k} [95% CI]"))]
    print(tabulate(table, headers=heads, tablefmt="github"))


def merge(args) -> None:
    from ftlab import merge as merging

    _exists(args.adapter, "the adapter directory")
    refuse_overlap(args.output, {"adapter": args.adapter, "--check data": args.data if args.check else None})
    refuse_clobber(args.output, merging.MERGE_FILE, args.force)
    writable_output(args.output, kind="directory")
    writable_cache()
    _adapter(args.adapter)  # its files readable: checked last of all, as it is the only check that reads them
    info = merging.merge(args.adapter, args.output, base=args.base, qlora_base=args.qlora_base,
                         check_rows=args.check, check_data=args.data, max_new_tokens=args.max_new_tokens,
                         batch_size=args.batch_size)
    print(f"merged {args.adapter} into the {info['merged_into']} ({info['base_model']['source']}:"
          f"{info['base_model']['path']}) -> {args.output}" + ("" if info["exact"] else " (not exact: QLoRA)"),
          file=sys.stderr)
    if "check" in info:
        c = info["check"]
        print(f"equivalence on the first {c['rows']} prompts of {c['data']}: greedy replies identical for "
              f"{c['exact_matches']}/{c['rows']} (match rate {c['match_rate']:.1%}, {c['max_new_tokens']} new tokens); "
              f"max |logit diff| on the prompts {c['max_abs_logit_diff']:.3g} (merged vs base + adapter)")


def check(args) -> None:
    """Every section of params.yaml validated before DVC reads it: DVC interpolates params into dvc.yaml (the
    source file is a dep, `${prepare.source.file}`) and a null there crashes every dvc command with "unexpected
    error" before any stage can name the key. `make repro` runs this first."""
    from ftlab import params

    for stage in params.SECTIONS:
        params.load(stage, args.params)  # the first problem: one line naming the key, exit status 2
    writable_cache()  # every training and evaluation stage writes there
    writable_outs()
    print(f"{args.params}: every section is valid", file=sys.stderr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="ftlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="triage every report in a JSONL file")
    p.add_argument("reports", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--adapter", type=Path, help="a directory saved by train_lora / train_qlora (models/lora)")
    p.add_argument("--base", type=base_spec, help="SOURCE:PATH[@REVISION]; default: the adapter's own base, "
                                                 "else embedded:smollm2-135m-instruct")
    p.add_argument("--batch-size", type=count(1), default=16)
    p.add_argument("--max-new-tokens", type=count(1), default=256)
    p.add_argument("--free", action="store_true", help="plain greedy decoding: do not constrain severity and category "
                                                       "to the spec's values")
    p.set_defaults(func=predict)
    s = sub.add_parser("score", help="metrics of a predictions file against a labels file")
    s.add_argument("predictions", type=Path)
    s.add_argument("labels", type=Path)
    s.add_argument("-o", "--output", type=Path, help="also write the metrics as JSON")
    s.add_argument("--train", type=Path, help="a training file with report text, severity and category per row "
                                              "(data/prepared/train.jsonl): also print what the majority class and "
                                              "TF-IDF + logistic regression fitted on it get, and the model's paired delta")
    s.set_defaults(func=score)
    m = sub.add_parser("merge", help="merge an adapter into its base and save a standalone model + tokenizer")
    m.add_argument("--adapter", type=Path, required=True, help="a directory saved by train_lora / train_qlora")
    m.add_argument("-o", "--output", type=Path, required=True, help="the merged model's directory (replaced atomically)")
    m.add_argument("--base", type=base_spec, help="SOURCE:PATH[@REVISION]; default: the adapter's own base")
    m.add_argument("--force", action="store_true", help="replace -o even when it is not a model ftlab merge wrote")
    m.add_argument("--qlora-base", choices=["dequantized", "original"], default="dequantized",
                   help="QLoRA adapters: merge into the 4-bit weights de-quantized to float (default) or the "
                        "original float weights; neither is exact")
    m.add_argument("--check", type=count(0), default=0, metavar="N",
                   help="compare greedy replies and logits with base + adapter on the first N test prompts")
    m.add_argument("--data", type=Path, default=Path("data/prepared/test.jsonl"), help="prompts for --check")
    m.add_argument("--batch-size", type=count(1), default=16)
    m.add_argument("--max-new-tokens", type=count(1), default=128)
    m.set_defaults(func=merge)
    c = sub.add_parser("check", help="validate every section of params.yaml (make repro runs it before dvc repro)")
    c.add_argument("--params", type=Path, default=Path("params.yaml"))
    c.set_defaults(func=check)
    args = parser.parse_args(argv)
    exit_on_error(lambda: args.func(args))  # one line for every error a user can fix, as the stages print
