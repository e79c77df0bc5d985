"""The benchmark script runs and reports what it measured (no timing assertions: speed
is recorded by running the script, not asserted in tests)."""

import json

from espnet_peft.bin import benchmark


def test_benchmark_smoke(tmp_path, capsys):
    benchmark.main(["--rounds", "1", "--configs", "floor,lora,ssvd,lora_plain", "--plain", "--seconds", "1",
                    "--tokens", "5", "--batch", "2", "--out", str(tmp_path), "--inference",
                    "--svd_cache", str(tmp_path / "svd")])
    result = json.loads((tmp_path / "benchmark.json").read_text())
    configs = result["configs"]
    assert list(configs) == ["floor", "lora", "ssvd", "lora_plain"]
    assert configs["lora_plain"]["trainable"] == configs["lora"]["trainable"]
    assert result["base_params"] == 101_182_628
    assert configs["floor"]["trainable"] == 1
    # r=32 on the 126 linear layers of the OWSM-base blocks (as count_params reports)
    assert configs["lora"]["trainable"] == 4_792_320 and configs["ssvd"]["trainable"] == 1_484_406
    assert all(c["step_s_median"] > 0 for c in configs.values())
    assert configs["floor"]["vs_floor"] == 1.0
    assert "| lora | 4,792,320 |" in (tmp_path / "benchmark.md").read_text()
    # CPU: the peak RSS one step adds is measured per configuration (values vary with the
    # allocator, so only that it was measured is asserted)
    assert all(c["cpu_step_peak_mb"] > 0 for c in configs.values())
    # SVD-based set-up is also timed with the disk cache filled (one entry per layer)
    assert configs["ssvd"]["setup_cached_s"] > 0 and configs["lora"]["setup_cached_s"] is None
    assert len(list((tmp_path / "svd" / "ssvd").glob("*.safetensors"))) == 126
    assert set(result["inference"]) == {"base", "lora", "lora_merged", "ssvd", "ssvd_merged"}
    assert result["inference"]["base"]["vs_base"] == 1.0
