"""ftlab predict / ftlab score / ftlab merge: the triage model on your own reports, metrics for any
predictions, and an adapter merged into its base as a standalone model.

    ftlab predict reports.jsonl -o predictions.jsonl --adapter models/lora
    ftlab score predictions.jsonl labels.jsonl -o scores.json
    ftlab merge --adapter models/lora -o models/merged-lora --check 16

reports.jsonl: one {"id": ..., "report": "..."} per line (id optional: the line number).
labels.jsonl:  one {"id": ..., "severity": ..., "category": ..., "affected_services": [...]} per line,
optionally "severity_ok" / "category_ok" (every answer accepted where more than one is defensible)
and "report" (else the prediction row's report is used for faithfulness).
"""
import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from ftlab import generation, metrics, models, triage
from ftlab.io import DataFileError, read_jsonl, write_json, write_jsonl
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


def _reports(path: Path) -> list[dict]:
    rows = read_jsonl(path)
    if not rows:
        raise DataFileError(f"{path}: no rows; expected one {{\"id\": ..., \"report\": \"...\"}} per line")
    out = []
    for number, row in enumerate(rows, 1):
        report = row.get("report")
        if not isinstance(report, str) or not report.strip():
            raise DataFileError(f"{path}: row {number}: field 'report' must be a non-empty string (got {report!r:.60})")
        out.append({"id": row.get("id", number), "report": report})
    if len({r["id"] for r in out}) != len(out):
        raise DataFileError(f"{path}: ids are not unique; give each row its own 'id'")
    return out


def predict(args) -> None:
    reports = _reports(args.reports)
    if args.adapter:
        model, tokenizer = models.load_for_inference(args.adapter, base=args.base)
    else:
        spec = args.base or BaseModelSpec(source="embedded", path="smollm2-135m-instruct")
        model, tokenizer = models.load_model(spec), models.load_tokenizer(spec)
    # The same prompt as training and evaluation: the spec's system prompt, then the report.
    prompts = [triage.prompt(r["report"]) for r in reports]
    try:
        replies = generation.generate(model, tokenizer, prompts, args.max_new_tokens, args.batch_size, desc="predict")
    except generation.PromptTooLong as e:
        raise DataFileError(f"{args.reports}: row {e.index + 1}: the report is too long for the model: {e.tokens} "
                            f"tokens with the prompt, and with --max-new-tokens {args.max_new_tokens} more than its "
                            f"context of {e.context} tokens; shorten or split it") from None
    rows = [{"id": r["id"], "report": r["report"], "output": text, "prediction": triage.parse_lenient(text),
             "format_conformance": triage.parse_strict(text) is not None}
            for r, (text, _) in zip(reports, replies)]
    write_jsonl(args.output, rows)
    conformant = sum(r["format_conformance"] for r in rows)
    print(f"wrote {len(rows)} predictions to {args.output} ({conformant} spec-conformant)", file=sys.stderr)


def _labels(path: Path) -> dict:
    labels = {}
    for number, row in enumerate(read_jsonl(path), 1):
        where = f"{path}: row {number}"
        if "id" not in row:
            raise DataFileError(f"{where}: no 'id'; labels are matched to predictions by id")
        for key, allowed in (("severity", triage.SEVERITIES), ("category", triage.CATEGORIES)):
            if row.get(key) not in allowed:
                raise DataFileError(f"{where}: field {key!r} is {row.get(key)!r}; expected one of {', '.join(allowed)}")
            accepted = row.setdefault(f"{key}_ok", [row[key]])
            if not isinstance(accepted, list) or not set(accepted) <= set(allowed) or row[key] not in accepted:
                raise DataFileError(f"{where}: field '{key}_ok' must be a list of {', '.join(allowed)} that includes {key}")
        services = row.get("affected_services")
        if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
            raise DataFileError(f"{where}: field 'affected_services' must be a list of strings")
        labels[row["id"]] = row
    if not labels:
        raise DataFileError(f"{path}: no label rows")
    return labels


def score(args) -> None:
    labels = _labels(args.labels)
    predictions = {}
    for number, row in enumerate(read_jsonl(args.predictions), 1):
        if "id" not in row or not isinstance(row.get("output"), str):
            raise DataFileError(f"{args.predictions}: row {number}: needs 'id' and the raw model text in 'output' "
                                "(as `ftlab predict` writes)")
        predictions[row["id"]] = row
    missing = [i for i in labels if i not in predictions]
    if missing:
        raise DataFileError(f"{args.predictions}: no prediction for {len(missing)} labelled ids, e.g. {missing[:3]}")
    extra = len(set(predictions) - set(labels))
    if extra:
        print(f"note: {extra} predictions have no label and are not scored", file=sys.stderr)
    scored = []
    for i, gold in labels.items():
        report = gold.get("report") or predictions[i].get("report") or ""
        scored.append({"id": i, **metrics.score_row(predictions[i]["output"], gold, report)})
    result = metrics.aggregate(scored)
    result["severity_confusion"] = metrics.severity_confusion(scored)
    if args.output:
        write_json(args.output, result)
    print(tabulate([[m, result[m], f"[{result[m + '_ci_low']}, {result[m + '_ci_high']}]"] for m in metrics.METRICS]
                   + [["severity_macro_f1", result["severity_macro_f1"], ""]],
                   headers=["metric", f"mean over {len(scored)} rows", "bootstrap 95% CI"], tablefmt="github"))


def merge(args) -> None:
    from ftlab import merge as merging

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="ftlab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="triage every report in a JSONL file")
    p.add_argument("reports", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--adapter", type=Path, help="a directory saved by train_lora / train_qlora (models/lora)")
    p.add_argument("--base", type=base_spec, help="SOURCE:PATH[@REVISION]; default: the adapter's own base, "
                                                 "else embedded:smollm2-135m-instruct")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.set_defaults(func=predict)
    s = sub.add_parser("score", help="metrics of a predictions file against a labels file")
    s.add_argument("predictions", type=Path)
    s.add_argument("labels", type=Path)
    s.add_argument("-o", "--output", type=Path, help="also write the metrics as JSON")
    s.set_defaults(func=score)
    m = sub.add_parser("merge", help="merge an adapter into its base and save a standalone model + tokenizer")
    m.add_argument("--adapter", type=Path, required=True, help="a directory saved by train_lora / train_qlora")
    m.add_argument("-o", "--output", type=Path, required=True, help="the merged model's directory (replaced atomically)")
    m.add_argument("--base", type=base_spec, help="SOURCE:PATH[@REVISION]; default: the adapter's own base")
    m.add_argument("--qlora-base", choices=["dequantized", "original"], default="dequantized",
                   help="QLoRA adapters: merge into the 4-bit weights de-quantized to float (default) or the "
                        "original float weights; neither is exact")
    m.add_argument("--check", type=int, default=0, metavar="N",
                   help="compare greedy replies and logits with base + adapter on the first N test prompts")
    m.add_argument("--data", type=Path, default=Path("data/prepared/test.jsonl"), help="prompts for --check")
    m.add_argument("--batch-size", type=int, default=16)
    m.add_argument("--max-new-tokens", type=int, default=128)
    m.set_defaults(func=merge)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (DataFileError, models.ModelSourceError) as e:
        sys.exit(f"error: {e}")
