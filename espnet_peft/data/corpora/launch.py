"""Run a corpus module by this file's path: ``python launch.py <corpus> [options]``.

The recipes' ``local/data.sh`` run this file by its path, from their recipe directory:
it puts the checkout holding it first on ``sys.path`` and calls
``espnet_peft.data.corpora.<corpus>.cli``. Importing ``espnet_peft`` is light (no torch,
no ESPnet), and data preparation needs neither.

    python espnet_peft/data/corpora/launch.py myst --corpus_dir /db/myst --domain myst
"""

import importlib
import sys
from pathlib import Path

MODULES = ("myst", "cmu_kids", "ogi_kids", "l2_arctic", "aesrc2020", "cgn", "common_voice", "edacc", "childmandarin",
           "librispeech", "aishell", "pretrained")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in MODULES:
        sys.exit(f"usage: {sys.argv[0]} <{'|'.join(MODULES)}> [options]")
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's espnet_peft
    module = importlib.import_module(f"espnet_peft.data.corpora.{sys.argv[1]}")
    module.cli(sys.argv[2:])


if __name__ == "__main__":
    main()
