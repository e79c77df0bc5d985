"""End to end through ESPnet's real code: train a tiny ASR base with ESPnet, adapt it
with every method through ``espnet_peft.bin.asr_train`` (adapter-only checkpoints),
decode with ``espnet_peft.bin.asr_inference``, merge, and decode the merged model with
ESPnet's own ``espnet2.bin.asr_inference`` (the entry points' ``main`` runs in this
process: the same code as ``python -m``, without an interpreter start and ESPnet import
each).

Needs espeak-ng and sox (Debian packages); about 2 minutes on 2 CPU cores.
"""

import json
import shutil

import pytest
import torch

import espnet_peft
from espnet_peft.bin import export_adapter, merge
from espnet_peft.integration.run_files import FINGERPRINT_FILE, read_fingerprint
from espnet_peft.core.fingerprint import base_fingerprint, check_fingerprint
from helpers.espnet_recipe import data_args, decode, make_experiment, read_hyps, train

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")

ADAPTERS = {
    "lora": {"r": 4, "alpha": 8},
    "dora": {"r": 4, "alpha": 8},
    "pissa": {"r": 4, "alpha": 4},
    "ssvd": {"k_fraction": 0.5, "rotation": "approx"},
    "ssvd_o": {"k_fraction": 0.5, "rotation": "strict", "budget_ratio": 0.5},
    "s2lora": {"r": 4, "alpha": 8, "l1_weight": 0.001},
}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("espnet")
    exp = make_experiment(root)
    # A different seed than the adaptation runs, so "initialised from random weights"
    # and "initialised from --init_param" cannot be confused.
    train(exp, root / "base", "--max_epoch", "15", "--seed", "1", "--optim_conf", "{lr: 0.005}",
          module="espnet2.bin.asr_train")
    exp["base_ckpt"] = root / "base" / "valid.loss.best.pth"
    decode(exp, root / "base" / "config.yaml", exp["base_ckpt"], root / "decode_base",
           module="espnet2.bin.asr_inference")
    exp["base_hyps"] = read_hyps(root / "decode_base")
    return exp


class Payload:
    """Unpickling this object would create a file: a stand-in for malicious code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def adapt(exp, method):
    """Adapt the base with ``method`` (once per module: later tests reuse the run)."""
    key = ("adapted", method)
    if key not in exp:
        out = exp["root"] / f"adapt_{method}"
        log = train(exp, out, "--init_param", exp["base_ckpt"], "--use_adapter", "true",
                    "--adapter", method, "--adapter_conf", json.dumps(ADAPTERS[method]),
                    "--save_strategy", "adapter_only", "--max_epoch", "3", "--seed", "0",
                    "--optim_conf", "{lr: 0.005}")
        exp[key] = out, log
    return exp[key]


def decode_adapter(exp, exp_dir):
    """Hypotheses of the adapter-only checkpoint through our entry point (decoded once)."""
    out = exp_dir / "decode_adapter"
    if not (out / "1best_recog" / "score").is_file():
        decode(exp, exp_dir / "config.yaml", exp_dir / "valid.loss.best.pth", out)
    return read_hyps(out)


def base_model_from_config(exp):
    from espnet2.tasks.asr import ASRTask
    model, _ = ASRTask.build_model_from_file(exp["root"] / "base" / "config.yaml", exp["base_ckpt"])
    return model


@pytest.mark.parametrize("method", list(ADAPTERS))
def test_adapt_save_adapter_only_decode_and_merge(method, base):
    exp_dir, log = adapt(base, method)
    ckpt = exp_dir / "valid.loss.best.pth"
    state = torch.load(ckpt, weights_only=True)

    # 1. The checkpoint holds the adapter (and buffers), not the base parameters.
    base_model = base_model_from_config(base)
    base_params = {n for n, _ in base_model.named_parameters()}
    assert not base_params & set(state), sorted(base_params & set(state))[:5]
    n_adapter = sum(v.numel() for k, v in state.items() if k.split(".")[-1] in
                    ("lora_A", "lora_B", "lora_magnitude", "sigma_delta", "skew", "s2lora_lambda")
                    or k.startswith("peft_shared"))
    assert 0 < n_adapter < 0.2 * sum(p.numel() for p in base_model.parameters())

    # 2. Adapters were initialised from --init_param (loaded after they were created):
    #    the fingerprint recorded at initialisation is the base checkpoint's.
    assert (exp_dir / FINGERPRINT_FILE).is_file()
    check_fingerprint(read_fingerprint(exp_dir), base_fingerprint(base_model), "training fingerprint")
    if method == "pissa":
        layer = "encoder.encoders.0.feed_forward.w_1"
        w = base_model.get_submodule(layer).weight.detach()
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
        principal = (u[:, :4] * s[:4]) @ vh[:4]
        learnt = state[f"{layer}.lora_B"] @ state[f"{layer}.lora_A"]  # scaling alpha/r = 1
        assert (learnt - principal).norm() / principal.norm() < 0.2
    if method == "s2lora":
        # Its L1 term is a proximal step after each optimizer step, not a loss term.
        assert "proximal steps (L1 soft-thresholding)" in log, "the proximal step was not installed"
        assert "adapter_reg=" not in log

    # 3. Decoding the adapter-only checkpoint (base from the config's init_param).
    adapted = decode_adapter(base, exp_dir)
    assert any(abs(adapted[k][1] - base["base_hyps"][k][1]) > 1e-3 for k in adapted), \
        "the adapter did not change the model"

    # 4. Merged into a plain ESPnet model, ESPnet's own decoder gives the same result.
    merge.main(["--task", "asr", "--config", str(exp_dir / "config.yaml"),
                "--model_file", str(ckpt), "--out_dir", str(exp_dir / "merged")])
    merged_state = torch.load(exp_dir / "merged" / "model.pth", weights_only=True)
    assert set(merged_state) == set(base_model.state_dict())
    decode(base, exp_dir / "merged" / "config.yaml", exp_dir / "merged" / "model.pth",
           exp_dir / "decode_merged", module="espnet2.bin.asr_inference")
    merged = read_hyps(exp_dir / "decode_merged")
    assert set(merged) == set(adapted)
    for k in adapted:
        assert merged[k][0] == adapted[k][0], (k, merged[k], adapted[k])
        assert merged[k][1] == pytest.approx(adapted[k][1], abs=1e-3)


def test_adapter_refuses_a_different_base_and_a_missing_one(base, tmp_path):
    exp_dir, _ = adapt(base, "ssvd")
    ckpt = exp_dir / "valid.loss.best.pth"
    wrong = tmp_path / "other_base.pth"
    state = torch.load(base["base_ckpt"], weights_only=True)
    state["decoder.output_layer.weight"] = state["decoder.output_layer.weight"] * 1.05
    torch.save(state, wrong)

    def refusal(base_file, name):
        with pytest.raises(Exception) as err:
            decode(base, exp_dir / "config.yaml", ckpt, tmp_path / name, "--base_model_file", base_file)
        return type(err.value).__name__, str(err.value)

    kind, msg = refusal(wrong, "d1")
    assert kind == "BaseModelMismatchError" and "different base weights" in msg
    _, msg = refusal(tmp_path / "nowhere.pth", "d2")
    assert "nowhere.pth" in msg and "not found" in msg

    # A base checkpoint carrying pickled code is refused, and the code never runs.
    marker = tmp_path / "pwned"
    bomb = tmp_path / "bomb.pth"
    torch.save({"x": Payload(str(marker))}, bomb)
    _, msg = refusal(bomb, "d5")
    assert "not a plain tensor checkpoint" in msg
    assert not marker.exists()

    # An exported .safetensors adapter decodes like the checkpoint it came from.
    adapter = exp_dir / "adapter.safetensors"
    export_adapter.main(["--task", "asr", "--config", str(exp_dir / "config.yaml"),
                         "--model_file", str(ckpt), "--out", str(adapter)])
    meta, _ = espnet_peft.checkpoint.adapter_file.read_adapter_file(adapter)
    assert meta["method"] == "ssvd" and meta["config"]["k_fraction"] == 0.5
    decode(base, exp_dir / "config.yaml", adapter, tmp_path / "d4")
    assert read_hyps(tmp_path / "d4") == decode_adapter(base, exp_dir)


def test_entry_points_widen_the_adapter_choices(capsys):
    from espnet2.tasks.s2t import S2TTask
    from espnet2.tasks.asr import ASRTask
    from espnet_peft.bin import s2t_train
    from espnet_peft.integration.tasks import peft_task

    for task in (ASRTask, S2TTask):
        parser = peft_task(task).get_parser()
        action = next(a for a in parser._actions if a.dest == "adapter")
        assert set(espnet_peft.METHODS) <= set(action.choices)
        assert "espnet_lora" in action.choices and "houlsby" in action.choices
    with pytest.raises(SystemExit) as stop:
        s2t_train.main(["--help"])
    assert stop.value.code == 0 and "ssvd_o" in capsys.readouterr().out


def test_import_is_light_and_registers_once_espnet_loads():
    """The recipes' helpers import espnet_peft in every stage: no torch, no ESPnet until
    used; the adapter types reach ESPnet's table when ESPnet imports it."""
    import subprocess
    import sys

    code = ("import sys, espnet_peft, espnet_peft.recipe.plan; "
            "print('loaded:', sorted(m for m in ('torch', 'espnet2') if m in sys.modules)); "
            "from espnet2.layers.create_adapter import create_adapter_fn_table as t; "
            "print('registered:', all(m in t for m in espnet_peft.METHODS), 'espnet_lora' in t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith(("loaded:", "registered:"))]
    assert lines == ["loaded: []", "registered: True True"], out.stdout + out.stderr[-2000:]


def test_task_classes_pickle_into_a_fresh_process():
    """ESPnet's multi-GPU mode spawns workers with the task class as target: it must
    unpickle in a process that has not built it yet."""
    import pickle
    import subprocess
    import sys

    from espnet2.tasks.asr import ASRTask
    from espnet_peft.integration.tasks import peft_task

    task = peft_task(ASRTask)
    assert peft_task(ASRTask) is task
    blob = pickle.dumps((task, task.trainer))
    code = ("import pickle, sys; t, tr = pickle.loads(sys.stdin.buffer.read()); "
            "print(t.__name__, tr.__name__, 'ssvd' in t.get_parser().format_help())")
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, timeout=300)
    last = out.stdout.decode().strip().splitlines()[-1]  # ESPnet prints notices first
    assert last.split() == ["PeftASRTask", "PeftASRTaskTrainer", "True"], out.stderr[-2000:]


def test_vera_and_adalora_train_decode_and_dump_ranks(base, tmp_path):
    """VeRA and AdaLoRA through the real entry points, one run each (kept out of the
    per-method test above, which also merges and decodes twice, to save time)."""
    from espnet_peft.bin import dump_ranks

    def adapt_with(method, conf):
        out = base["root"] / f"adapt_{method}"
        log = train(base, out, "--init_param", base["base_ckpt"], "--use_adapter", "true",
                    "--adapter", method, "--adapter_conf", json.dumps(conf),
                    "--save_strategy", "adapter_only", "--max_epoch", "3", "--seed", "0",
                    "--optim_conf", "{lr: 0.01}")
        return out, log, torch.load(out / "latest.pth", weights_only=True)

    # VeRA: the checkpoint holds only the scaling vectors; decoding builds a new model,
    # which regenerates A/B from the seed in the config, and the adapter changes the output.
    exp_dir, _, state = adapt_with("vera", {"r": 16, "projection_seed": 5})
    assert not any("vera_A" in k or "vera_B" in k for k in state)
    assert [k for k in state if k.startswith("peft_shared")] == ["peft_shared.vera.projection_probe"]
    assert any(k.endswith("vera_lambda_b") and v.abs().sum() > 0 for k, v in state.items())
    decode(base, exp_dir / "config.yaml", exp_dir / "latest.pth", exp_dir / "decode_adapter")
    adapted = read_hyps(exp_dir / "decode_adapter")
    assert any(abs(adapted[k][1] - base["base_hyps"][k][1]) > 1e-3 for k in adapted)

    # AdaLoRA: 8 utterances in batches of 4 for 3 epochs = 6 optimizer steps; the final
    # allocation happens at step total_step - tfinal = 4. The orthogonality term reaches
    # ESPnet's loss, the step counter is in the adapter-only checkpoint, and dump_ranks
    # (through the safe loader: config + checkpoint + base) reports the saved allocation.
    conf = {"init_r": 4, "target_r": 2, "total_step": 6, "tinit": 1, "tfinal": 2, "orth_reg_weight": 0.1}
    exp_dir, log, state = adapt_with("adalora", conf)
    assert "adapter_reg=" in log
    assert int(state["peft_shared.adalora.global_step"]) == 6
    masks = {k[: -len(".adalora_mask")]: v for k, v in state.items() if k.endswith(".adalora_mask")}
    assert masks and sum(int((m > 0).sum()) for m in masks.values()) == conf["target_r"] * len(masks)
    out = tmp_path / "ranks.json"
    dump_ranks.main(["--task", "asr", "--config", str(exp_dir / "config.yaml"),
                     "--model_file", str(exp_dir / "latest.pth"), "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["method"] == "adalora"
    assert {e["name"]: e["rank"] for e in report["layers"]} == \
        {name: int((m > 0).sum()) for name, m in masks.items()}


def test_runs_trained_one_after_another_in_one_process_keep_their_own_logs(base, tmp_path):
    """peft.sh stage 6 trains several runs per process (espnet_peft.recipe.train_runs): each
    run's output goes to its own train.log, a failing run is reported and the next one
    still trains."""
    from espnet_peft.recipe import train_runs

    confs = {"lora": {"r": 2}, "broken": {"rank": 2}, "ssvd": {"k_fraction": 0.5}}
    dirs = []
    for name, conf in confs.items():
        d = tmp_path / name
        d.mkdir()
        args = ["--config", base["config"], "--output_dir", d, *data_args(base), "--init_param", base["base_ckpt"],
                "--use_adapter", "true", "--adapter", "ssvd" if name == "ssvd" else "lora",
                "--adapter_conf", json.dumps(conf), "--max_epoch", "1", "--seed", "0"]
        (d / "train.args").write_text("".join(f"{a}\n" for a in args))
        dirs.append(d)
    with pytest.raises(SystemExit, match="nowhere/train.args not found"):
        train_runs.main([*map(str, dirs), str(tmp_path / "nowhere")])
    assert not any((d / "train.log").exists() for d in dirs), "started before checking every run"

    assert train_runs.main(["--entry", "espnet_peft.bin.asr_train", *map(str, dirs)]) == 1
    logs = {d.name: (d / "train.log").read_text() for d in dirs}
    for name in ("lora", "ssvd"):
        assert logs[name].startswith(f"# --config {base['config']} --output_dir {tmp_path / name} ")
        assert "The training was finished" in logs[name] and f"'method': '{name}'" in logs[name]
        assert json.loads((tmp_path / name / "peft_summary.json").read_text())["method"] == name
        assert not any(other in logs[name] for other in (f"{tmp_path}/broken", f"'method': '{'ssvd' if name == 'lora' else 'lora'}'"))
    assert "rank" in logs["broken"] and "did you mean" in logs["broken"] and "Traceback" in logs["broken"]
    assert not (tmp_path / "broken" / "peft_summary.json").exists()
