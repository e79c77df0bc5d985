"""Interrupted training and unsafe checkpoints, through the real ESPnet trainer.

A training process is SIGKILLed (mid-epoch, and in the middle of writing
``checkpoint.pth``), restarted with ``--resume true`` and must end with exactly the
adapter weights of an uninterrupted run (bit-exact on CPU). A ``--init_param`` file
that would run code when unpickled is refused before anything is executed.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from helpers.espnet_recipe import data_args, make_experiment, train

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")

EPOCHS = 4  # 8 utterances, batch 4: 2 optimizer steps per epoch
ADAPT = ["--use_adapter", "true", "--adapter", "pissa",
         "--adapter_conf", json.dumps({"r": 4, "alpha": 4, "dropout": 0.1}),
         "--save_strategy", "adapter_only", "--max_epoch", str(EPOCHS), "--seed", "3",
         "--optim_conf", "{lr: 0.005}", "--resume", "true"]

# Runs espnet_peft's asr_train after arming one fault: SIGKILL at the N-th optimizer
# step, or half-way through writing the N-th checkpoint.pth.
FAULTY_TRAIN = r"""
import io, os, signal, sys, torch
mode, n = sys.argv[1], int(sys.argv[2])
if mode == "step":
    steps = [0]
    def after_step(optimizer, args, kwargs):
        steps[0] += 1
        if steps[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
    from torch.optim.optimizer import register_optimizer_step_post_hook
    register_optimizer_step_post_hook(after_step)
else:
    real_save, saves = torch.save, [0]
    def save(obj, f, *args, **kwargs):
        if "checkpoint.pth" in str(f):
            saves[0] += 1
            if saves[0] == n:
                buf = io.BytesIO()
                real_save(obj, buf)
                with open(f, "wb") as out:
                    out.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, f, *args, **kwargs)
    torch.save = save
from espnet_peft.bin.asr_train import main
main(sys.argv[3:])
"""


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    exp = make_experiment(root)
    train(exp, root / "base", "--max_epoch", "2", "--seed", "1", module="espnet2.bin.asr_train")
    exp["base_ckpt"] = root / "base" / "valid.loss.best.pth"
    return exp


def train_args(exp, out, init_param=None):
    return ["--config", str(exp["config"]), "--output_dir", str(out), *map(str, data_args(exp)),
            "--init_param", str(init_param or exp["base_ckpt"]), *ADAPT]


def run_with_fault(exp, out, mode, n):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-c", FAULTY_TRAIN, mode, str(n), *train_args(exp, out)],
                          capture_output=True, text=True, env=env)


def final_adapter(out):
    state = torch.load(out / f"{EPOCHS}epoch.pth", weights_only=True)
    assert any("lora_A" in k for k in state), sorted(state)[:5]
    return state


@pytest.fixture(scope="module")
def reference(exp):
    out = exp["root"] / "uninterrupted"
    train(exp, out, "--init_param", exp["base_ckpt"], *ADAPT)
    return final_adapter(out)


@pytest.mark.parametrize("mode,n,epochs_done", [
    ("step", 5, 2),   # killed after the first step of epoch 3
    ("save", 3, 2),   # killed while writing checkpoint.pth at the end of epoch 3
])
def test_killed_run_resumes_to_the_same_weights(exp, reference, mode, n, epochs_done):
    out = exp["root"] / f"killed_{mode}"
    proc = run_with_fault(exp, out, mode, n)
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert not (out / "peft_summary.json").exists()
    # The checkpoint on disk is the complete one from the last finished epoch.
    ckpt = torch.load(out / "checkpoint.pth", weights_only=False)
    assert ckpt["reporter"]["epoch"] == epochs_done
    assert not list(out.glob(".checkpoint.pth.*")) or mode == "save"

    log = train(exp, out, "--init_param", exp["base_ckpt"], *ADAPT)
    assert "The training was resumed" in log, log[-2000:]
    resumed = final_adapter(out)
    assert resumed.keys() == reference.keys()
    differ = [k for k in reference if not torch.equal(resumed[k], reference[k])]
    assert not differ, f"resumed run differs from the uninterrupted one in {differ[:5]}"
    assert (out / "peft_summary.json").is_file()


class Payload:
    """Unpickling this object creates a file: a stand-in for malicious code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_init_param_with_pickled_code_is_refused(exp, tmp_path):
    marker = tmp_path / "code_ran"
    bomb = tmp_path / "pretrained.pth"
    state = torch.load(exp["base_ckpt"], weights_only=True)
    state["extra"] = Payload(marker)
    torch.save(state, bomb)
    from espnet_peft.bin.asr_train import main  # in this process: it fails before training

    with pytest.raises(Exception, match=re.escape(f"{bomb} is not a plain tensor checkpoint")):
        main(train_args(exp, tmp_path / "out", init_param=bomb))
    assert not marker.exists(), "unpickling ran code from --init_param"
