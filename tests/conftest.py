"""Shared fixtures, and the ``integration`` marker on every test under tests/integration/
(``pytest -m "not integration"`` runs the unit layer alone)."""

from pathlib import Path

import pytest
import torch

from helpers.matrix import pretrained_tiny_model

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def base_model():
    return pretrained_tiny_model()


@pytest.fixture
def inputs():
    return torch.randn(16, 12, generator=torch.Generator().manual_seed(1))
