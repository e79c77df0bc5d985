#!/usr/bin/env python3
"""Submit a command (or an array of jobs) to Slurm and wait for it, ESPnet slurm.pl-style.

    utils/slurm.sh [--config conf/slurm.conf] [--gpu N] [--mem 8G] [--num_threads N]
                   [--time 4:00:00] [--max_jobs_run N] [JOB=1:K] <log> <command...>

Same interface as utils/run.sh: JOB in the log path and command becomes the array
index; each task's output goes to its log (with the command, node, start/end time and
exit status); the exit status is non-zero if any task failed, and the failed logs are
named. The config maps options to sbatch flags in the Kaldi/ESPnet slurm.conf format
(``DEFAULT_CONFIG`` below is used without ``--config``; see conf/slurm.conf in a recipe):

``option NAME=VALUE flags`` applies for that exact value, ``NAME=*`` for any other
($0 is the value); ``default NAME=VALUE`` applies when the option is not given. Only
the standard library is used (no ESPnet start-up cost per submission).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

OPTIONS = ("gpu", "mem", "num_threads", "time", "max_jobs_run")
DEFAULT_CONFIG = """command sbatch --export=ALL
option gpu=0
option gpu=* --gres=gpu:$0
option mem=* --mem=$0
option num_threads=* --cpus-per-task=$0
option time=* --time=$0
default gpu=0
"""


def die(msg: str, code: int = 2):
    print(f"slurm.sh: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_config(text: str, origin: str):
    command, rules, defaults = None, {}, {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        if kind == "command":
            command = shlex.split(rest)
        elif kind in ("option", "default"):
            spec, _, flags = rest.strip().partition(" ")
            name, eq, value = spec.partition("=")
            if not eq or name not in OPTIONS:
                die(f"{origin}:{n}: expected '{kind} <{'|'.join(OPTIONS)}>=<value> ...', got {raw!r}")
            if kind == "default":
                defaults[name] = value
            else:
                rules[(name, value)] = shlex.split(flags)
        else:
            die(f"{origin}:{n}: unknown line {raw!r} (expected command/option/default)")
    if not command:
        die(f"{origin}: no 'command sbatch ...' line")
    return command, rules, defaults


def sbatch_flags(values, rules):
    flags = []
    for name, value in values.items():
        if name == "max_jobs_run":
            continue
        rule = rules.get((name, value), rules.get((name, "*")))
        if rule is None:
            die(f"the config has no rule for --{name} {value}")
        flags += [f.replace("$0", value) for f in rule]
    return flags

# States from which a job (or array task) does not run again unless it is requeued by
# hand; every other state (PENDING, RUNNING, COMPLETING, REQUEUED, SUSPENDED, ...) is
# waited through, so a job requeued by preemption or scontrol is followed to its end.
# PREEMPTED is final under PreemptMode=CANCEL but passes on its way back to PENDING under
# REQUEUE: it must be seen on two polls in a row.
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
STATUS_GRACE_S = 30.0


def job_states(job_id: str) -> dict[str, str] | None:
    """{array task id ("N/A" for a plain job): state} in any state slurmctld still holds;
    None when slurmctld no longer knows the job, {} when squeue gave no answer."""
    q = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%K %T"],
                       capture_output=True, text=True)
    if q.returncode != 0:
        return None if "Invalid job id" in q.stderr else {}
    return dict(line.split(None, 1) for line in q.stdout.splitlines() if line.strip())


def wait_for(job_id: str) -> dict[str, str]:
    """Poll until every task of the job is in a final state (sbatch --wait polls slowly:
    2 s, 8 s, 32 s ...); returns the last states seen. No answer for a minute in a row
    counts as the job being gone (purged once slurmctld's MinJobAge has passed)."""
    delay, last, final_before, silent_since = 0.5, {}, False, None
    while True:
        states = job_states(job_id)
        if states is None:
            return last
        silent_since = (silent_since or time.time()) if not states else None
        if silent_since and time.time() - silent_since > 60:
            return last
        if states:
            last = states
            kinds = {s.split()[0] for s in states.values()}
            if kinds <= FINAL_STATES and (final_before or "PREEMPTED" not in kinds):
                return states
            final_before = kinds <= FINAL_STATES
        time.sleep(delay)
        delay = min(delay * 1.5, 10.0)


def wait_for_file(path: Path, seconds: float) -> Path:
    end = time.time() + seconds
    while not path.is_file() and time.time() < end:
        time.sleep(0.5)
    return path


def main(argv):
    config, values = None, {}
    while argv and argv[0].startswith("--"):
        name = argv[0][2:]
        if len(argv) < 2:
            die(f"option --{name} needs a value")
        if name == "config":
            config = argv[1]
        elif name in OPTIONS:
            values[name] = argv[1]
        else:
            die(f"unknown option --{name}")
        argv = argv[2:]
    var, first, last = None, 1, 1
    if argv and (m := re.fullmatch(r"([A-Za-z_]+)=(\d+)(?::(\d+))?", argv[0])):
        var, first, last = m.group(1), int(m.group(2)), int(m.group(3) or m.group(2))
        argv = argv[1:]
    if len(argv) < 2:
        die("usage: slurm.sh [options] [JOB=1:N] <log> <command...>")
    log_template, command = argv[0], argv[1:]

    if config:
        if not Path(config).is_file():
            die(f"config {config} not found")
        command_prefix, rules, defaults = parse_config(Path(config).read_text(), config)
    else:
        command_prefix, rules, defaults = parse_config(DEFAULT_CONFIG, "built-in config")
    for name, value in defaults.items():
        values.setdefault(name, value)
    if shutil.which(command_prefix[0]) is None:
        die(f"{command_prefix[0]} not found: install Slurm's client tools or use cmd_backend=local", 1)

    log_template = os.path.abspath(log_template)
    log_dir = Path(log_template).parent
    qdir = log_dir / "q"
    qdir.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(log_template).name.replace(var or "\0", "").strip("."))
    stamp = f"{base}.{os.getpid()}"
    status_tpl = str(qdir / f"{stamp}.%s.status")
    task_var = "SLURM_ARRAY_TASK_ID" if var else None

    script = qdir / f"{stamp}.sh"
    script.write_text("\n".join([
        "#!/bin/bash",
        f"cd {shlex.quote(os.getcwd())}",
        f"task=${{{task_var}:-{first}}}" if task_var else f"task={first}",
        f"var={shlex.quote(var or '')}",
        f"log_template={shlex.quote(log_template)}",
        "args=(" + " ".join(shlex.quote(a) for a in command) + ")",
        'if [ -n "$var" ]; then log=${log_template//$var/$task}; cmd=(); '
        'for a in "${args[@]}"; do cmd+=("${a//$var/$task}"); done; '
        'else log=$log_template; cmd=("${args[@]}"); fi',
        'mkdir -p "$(dirname "$log")"',
        # A requeued job (preemption, scontrol requeue) appends to the log of its first start.
        'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then '
        'echo "# requeued: restart ${SLURM_RESTART_COUNT} at $(date \'+%F %T\') on $(hostname)" >> "$log"; '
        'else { echo "# ${cmd[*]}"; echo "# started at $(date \'+%F %T\') on $(hostname) '
        '(slurm job ${SLURM_JOB_ID:-?})"; } > "$log"; fi',
        f"export OMP_NUM_THREADS={values.get('num_threads', '1')} MKL_NUM_THREADS={values.get('num_threads', '1')}",
        '"${cmd[@]}" >> "$log" 2>&1',
        "rc=$?",
        'echo "# ended at $(date \'+%F %T\') with status $rc" >> "$log"',
        f'echo $rc > "$(printf {shlex.quote(status_tpl)} "$task")"',
        "exit $rc", ""]))
    for i in range(first, last + 1):
        Path(status_tpl % i).unlink(missing_ok=True)

    flags = sbatch_flags(values, rules)
    submit = command_prefix + ["--parsable", f"--job-name={base or 'peft'}",
                               f"--output={qdir / (stamp + '.%a.out' if var else stamp + '.out')}"] + flags
    if var:
        array = f"{first}-{last}"
        if "max_jobs_run" in values:
            array += f"%{values['max_jobs_run']}"
        submit.append(f"--array={array}")
    submit.append(str(script))
    proc = subprocess.run(submit, capture_output=True, text=True)
    if proc.returncode != 0:
        die(f"sbatch refused the job ({' '.join(submit)}): {proc.stderr.strip()}", 1)
    job_id = proc.stdout.strip().split(";")[0]
    print(f"slurm.sh: submitted job {job_id} ({last - first + 1} task(s)); logs {log_template}",
          file=sys.stderr)

    states = wait_for(job_id)
    failed = []
    for i in range(first, last + 1):
        status = Path(status_tpl % i)
        log = log_template.replace(var, str(i)) if var else log_template
        state = states.get(str(i) if var else "N/A", "unknown")
        if not status.is_file() and state in ("COMPLETED", "FAILED"):
            status = wait_for_file(status, STATUS_GRACE_S)  # the script ended: its status may lag on NFS
        if not status.is_file():
            failed.append(f"{log} (no exit status; Slurm's state: {state}; see {qdir})")
        elif status.read_text().strip() != "0":
            failed.append(log)
    if failed:
        die(f"{len(failed)} of {last - first + 1} task(s) of job {job_id} failed; see {' '.join(failed)}", 1)


if __name__ == "__main__":
    main(sys.argv[1:])
