"""Configuration mistakes stop ESPnet training at start-up, through the real entry
point, with a message naming the field -- before any training step or checkpoint."""

import json
import shutil

import pytest

from espnet_peft.core.config import AdapterConfigError
from helpers.espnet_recipe import data_args, make_experiment

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    return make_experiment(tmp_path_factory.mktemp("startup"))


CASES = [
    ("lora", {"rank": 4}, r"unknown adapter_conf key\(s\) for method 'lora': \['rank'\].*'rank' -> 'r'\?"),
    ("lora", {"r": 1000}, r"linear_q: lora: r=1000 exceeds the rank of a 32x32 layer"),
    ("ssvd", {"k_fraction": 0.4, "target_modules": ["linear_qq"]}, r"pattern 'linear_qq' matches no module"),
    ("dora", {"r": 4, "target_modules": ["norm_ff"]}, r"matches only layers the adapters cannot wrap.*LayerNorm"),
    ("pissa", {"alpha": "big"}, r"'alpha' for 'pissa' must be a number"),
]


@pytest.mark.parametrize("method,conf,message", CASES)
def test_bad_adapter_config_fails_before_training(exp, tmp_path, method, conf, message):
    from espnet_peft.bin.asr_train import main

    out = tmp_path / "out"
    with pytest.raises(AdapterConfigError, match=message):
        main(["--config", str(exp["config"]), "--output_dir", str(out), *map(str, data_args(exp)),
              "--use_adapter", "true", "--adapter", method, "--adapter_conf", json.dumps(conf)])
    assert not list(out.glob("*.pth")), "a checkpoint was written before the error"


def test_unknown_method_lists_the_available_ones(exp, tmp_path, capsys):
    from espnet_peft.bin.asr_train import main

    with pytest.raises(SystemExit) as err:
        main(["--config", str(exp["config"]), "--output_dir", str(tmp_path), *map(str, data_args(exp)),
              "--use_adapter", "true", "--adapter", "loar"])
    assert err.value.code == 2
    stderr = capsys.readouterr().err
    assert "invalid choice: 'loar'" in stderr and "'lora'" in stderr and "'ssvd_o'" in stderr
