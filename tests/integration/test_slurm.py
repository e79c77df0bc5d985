"""The Slurm backend against a real one-node Slurm cluster started on this machine
(tools/slurm/start_cluster.sh: Debian slurm-wlm + munge, as root). Skipped, with the
reason, where Slurm cannot start."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2/mini_synth/peft1"
LAUNCHER = ROOT / "egs2/TEMPLATE/peft1/utils/slurm.sh"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = [p for p in ("slurmctld", "slurmd", "munged", "sbatch") if shutil.which(p) is None]
    if missing:
        pytest.skip(f"Slurm not installed ({missing}); apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root")
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURM_PORT=str(17000 + os.getpid() % 2000))
    proc = subprocess.run([str(ROOT / "tools/slurm/start_cluster.sh"), str(state)],
                          capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"Slurm did not start: {proc.stderr.strip()[-500:]}")
    yield dict(os.environ, SLURM_CONF=str(state / "slurm.conf"))
    subprocess.run([str(ROOT / "tools/slurm/stop_cluster.sh"), str(state)], timeout=60)


def test_array_job_logs_and_exit_codes(cluster, tmp_path):
    proc = subprocess.run([str(LAUNCHER), "--num_threads", "1", "JOB=1:3", "log/t.JOB.log",
                           "bash", "-c", "echo task JOB $SLURM_JOB_ID; [ JOB != 2 ]"],
                          cwd=tmp_path, env=cluster, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "1 of 3 task(s)" in proc.stderr and "t.2.log" in proc.stderr
    for i in (1, 2, 3):
        log = (tmp_path / f"log/t.{i}.log").read_text()
        assert f"task {i} " in log and "(slurm job" in log
        assert log.rstrip().endswith(f"with status {1 if i == 2 else 0}")

    ok = subprocess.run([str(LAUNCHER), "log/one.log", "true"], cwd=tmp_path, env=cluster,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr


def test_a_cancelled_job_is_reported_with_slurms_state(cluster, tmp_path):
    proc = subprocess.Popen([str(LAUNCHER), "log/c.log", "sleep", "120"], cwd=tmp_path, env=cluster,
                            stderr=subprocess.PIPE, text=True)
    job = proc.stderr.readline().split("submitted job ")[1].split()[0]
    log, deadline = tmp_path / "log/c.log", time.time() + 120
    while not (log.exists() and "started at" in log.read_text()):
        assert proc.poll() is None and time.time() < deadline, "the job did not start"
        time.sleep(0.1)
    subprocess.run(["scancel", job], env=cluster, check=True)
    assert proc.wait(timeout=120) == 1
    assert "no exit status; Slurm's state: CANCELLED" in proc.stderr.read()


def test_launcher_errors_are_clear(cluster, tmp_path):
    bad = tmp_path / "slurm.conf"
    bad.write_text("command sbatch\noption colour=* --x\n")
    proc = subprocess.run([str(LAUNCHER), "--config", str(bad), "log/x.log", "true"], cwd=tmp_path,
                          env=cluster, capture_output=True, text=True)
    assert proc.returncode == 2 and "slurm.conf:2" in proc.stderr
    env = dict(cluster, PATH="/nonexistent")
    proc = subprocess.run(["/usr/bin/python3", str(LAUNCHER.with_suffix(".py")), "log/x.log", "true"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "sbatch not found" in proc.stderr
    proc = subprocess.run([str(LAUNCHER), "--mem", "100000G", "log/x.log", "true"], cwd=tmp_path,
                          env=cluster, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "sbatch refused" in proc.stderr


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng and sox")
def test_recipe_with_a_sweep_runs_through_sbatch(cluster, tmp_path):
    """The demo recipe end to end (tiny sizes) with cmd_backend=slurm: collect_stats and
    base training as Slurm jobs, a LoRA rank sweep submitted as one array, decoding as
    an array, then the results table over every point of the grid."""
    from test_recipe import SIZES

    env = dict(cluster, cmd_backend="slurm")
    cmd = [str(RECIPE / "run.sh"), "--datadir", tmp_path / "data",
           "--dumpdir", tmp_path / "dump", "--expdir", tmp_path / "exp",
           "--local_data_opts", f"--sizes {SIZES} --wavdir {tmp_path}/wav",
           "--base_config", "conf/tuning/train_base_tiny.yaml", "--nbpe", "30",
           "--target_domains", "child", "--methods", "zero_shot lora", "--sweep", "lora:r=2,4",
           "--adapt_args", "--max_epoch 1 --batch_size 4"]
    proc = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.count("submitted job") >= 4  # stats, base, adaptation array, decoding array
    assert "(2 task(s))" in proc.stderr
    exp = tmp_path / "exp"
    for d in ("adult", "child"):
        assert (exp / "stats_bpe_unigram30" / d / "train/feats_stats.npz").is_file()
    assert "(slurm job" in (exp / "base_adult_bpe_unigram30/train.log").read_text()
    assert list((exp / "log/q").glob("*.sh")), "no sbatch job scripts written"
    runs = sorted(p.name for p in exp.glob("adapt_child_lora_*"))
    assert runs == ["adapt_child_lora_r2_alpha16_lr0p003", "adapt_child_lora_r4_alpha16_lr0p003"]
    csv = (exp / "results.csv").read_text()
    assert all(r.split("adapt_child_")[1] in csv for r in runs) and "zero_shot" in csv


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng and sox")
def test_preempted_training_is_requeued_and_resumes_to_the_same_weights(cluster, tmp_path):
    """A training job requeued by Slurm (what preemption does) while it runs restarts
    with --resume true and ends with the adapter weights of an uninterrupted run."""
    import sys

    import torch
    from helpers.espnet_recipe import data_args, make_experiment, train

    epochs = 8  # the requeue lands after the first checkpoint, epochs before the job would end
    exp = make_experiment(tmp_path)
    train(exp, tmp_path / "base", "--max_epoch", "1", module="espnet2.bin.asr_train")
    adapt = ["--init_param", tmp_path / "base/1epoch.pth", "--use_adapter", "true",
             "--adapter", "lora", "--adapter_conf", '{"r": 2, "dropout": 0.1}',
             "--save_strategy", "adapter_only", "--max_epoch", str(epochs), "--resume", "true",
             "--keep_nbest_models", "1"]
    train(exp, tmp_path / "reference", *adapt)

    out = tmp_path / "preempted"
    cmd = [str(LAUNCHER), "log/train.log", sys.executable, "-m", "espnet_peft.bin.asr_train",
           "--config", exp["config"], "--output_dir", out, *data_args(exp), *adapt]
    proc = subprocess.Popen([str(c) for c in cmd], cwd=tmp_path, env=cluster,
                            stderr=subprocess.PIPE, text=True)
    job = proc.stderr.readline().split("submitted job ")[1].split()[0]
    deadline = time.time() + 240
    while not (out / "checkpoint.pth").exists():
        assert proc.poll() is None and time.time() < deadline, "no checkpoint before the job ended"
        time.sleep(0.1)
    requeue = subprocess.run(["scontrol", "requeue", job], env=cluster, capture_output=True, text=True)
    assert requeue.returncode == 0, requeue.stderr
    # Slurm holds a requeued job back for about two minutes before it may start again;
    # make it eligible sooner (the wait tests nothing of ours), but not at once: slurmd
    # revokes the first run's credential with a time in whole seconds, and a restart in the
    # same second is refused ("Job credential revoked") and ends the job as FAILED.
    for _ in range(600):
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=cluster,
                               capture_output=True, text=True).stdout.strip()
        if state == "PENDING":
            time.sleep(3)
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], env=cluster,
                           capture_output=True)
            break
        time.sleep(0.2)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-2000:]
    log = (tmp_path / "log/train.log").read_text()
    assert "# requeued: restart 1" in log and "The training was resumed" in log, log[-3000:]
    mine = torch.load(out / f"{epochs}epoch.pth", weights_only=True)
    ref = torch.load(tmp_path / f"reference/{epochs}epoch.pth", weights_only=True)
    assert mine.keys() == ref.keys()
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
