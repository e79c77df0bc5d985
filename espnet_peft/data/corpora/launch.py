"""Run a corpus module without importing torch: ``python launch.py <corpus> [options]``.

``import espnet_peft`` registers the adapter methods, which imports torch and ESPnet
(seconds to tens of seconds on a busy machine). Data preparation needs neither, so the
recipes' ``local/data.sh`` run this file by its path: it registers ``espnet_peft`` as a
bare namespace (its ``__init__`` is not executed) and calls
``espnet_peft.data.corpora.<corpus>.main``.

    python espnet_peft/data/corpora/launch.py myst --corpus_dir /db/myst --domain myst
"""

import importlib
import sys
import types
from pathlib import Path

MODULES = ("myst", "cmu_kids", "ogi_kids", "l2_arctic", "aesrc2020", "cgn", "common_voice", "edacc", "childmandarin",
           "librispeech", "aishell", "pretrained")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in MODULES:
        sys.exit(f"usage: {sys.argv[0]} <{'|'.join(MODULES)}> [options]")
    package_dir = Path(__file__).resolve().parents[2]
    if "espnet_peft" not in sys.modules:
        package = types.ModuleType("espnet_peft")
        package.__path__ = [str(package_dir)]
        sys.modules["espnet_peft"] = package
    module = importlib.import_module(f"espnet_peft.data.corpora.{sys.argv[1]}")
    module.cli(sys.argv[2:])


if __name__ == "__main__":
    main()
