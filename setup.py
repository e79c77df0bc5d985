from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent


def requirements(name):
    lines = (here / "tools" / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


setup(
    name="espnet_peft",
    version="0.1.0",
    description="Parameter-efficient fine-tuning (LoRA, DoRA, PiSSA, SSVD, SSVD-O, S2-LoRA) "
                "of speech foundation models as ESPnet adapters and recipes",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["espnet_peft", "espnet_peft.*"]),
    python_requires=">=3.10",
    install_requires=requirements("requirements.txt"),
    extras_require={"test": requirements("requirements-test.txt")},
    license="Apache-2.0",
)
