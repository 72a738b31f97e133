"""python -m bench.repro_timed [--out bench/out/repro.json] [--log repro.log] [-- DVC_REPRO_ARGS...]

`ftlab check` then `dvc repro`, as `make repro` runs them, with the wall time of every stage (issue 32: where a
fresh clone's time goes, on a CPU or on a GPU box). Each output line is echoed and written to --log with the seconds
since the start; a stage's time runs from dvc's "Running stage 'NAME'" line to the next stage's (the last one to the
end). Writes --out: the machine (CPU model from lscpu, GPU names, torch's threads), the stages in order with
seconds, the total, dvc's exit status and the command. Stages dvc skips as unchanged take no time and are not listed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

STAGE = re.compile(r"Running stage '([^']+)'")


def machine() -> dict:
    import torch

    from ftlab.device import cpu_model

    cpu = cpu_model()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "gpus": gpus}


def run(cmd: list[str], log, started: float, stages: list) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each stage's lines as they are printed, not in buffered blocks
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)
    for line in proc.stdout:
        now = time.perf_counter() - started
        for piece in line.rstrip("\n").split("\r"):  # progress bars redraw with carriage returns
            if piece.strip():
                log.write(f"{now:8.1f} {piece}\n")
        log.flush()
        sys.stdout.write(line)
        if m := STAGE.search(line):
            stages.append({"stage": m[1], "start_s": round(now, 1)})
    return proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[2])
    ap.add_argument("--out", type=Path, default=Path("bench/out/repro.json"))
    ap.add_argument("--log", type=Path, default=Path("repro.log"))
    ap.add_argument("repro_args", nargs="*", help="passed to dvc repro (after --)")
    args = ap.parse_args()
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "machine": machine(),
            "command": ["dvc", "repro", *args.repro_args]}
    stages: list[dict] = []
    started = time.perf_counter()
    with args.log.open("w") as log:
        rc = run([sys.executable, "-m", "ftlab", "check"], log, started, stages)
        check_s = time.perf_counter() - started
        if rc == 0:
            rc = run([sys.executable, "-m", "dvc", "repro", *args.repro_args], log, started, stages)
    total = time.perf_counter() - started
    for stage, nxt in zip(stages, stages[1:] + [{"start_s": round(total, 1)}]):
        stage["seconds"] = round(nxt["start_s"] - stage["start_s"], 1)
    info |= {"returncode": rc, "check_s": round(check_s, 1), "stages": stages, "total_s": round(total, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps({s["stage"]: s["seconds"] for s in stages} | {"total_s": info["total_s"], "returncode": rc}))
    sys.exit(rc)


if __name__ == "__main__":
    main()
