"""The patches are tied to one moto version: anything else must fail loudly, not drift quietly."""

import moto
import pytest
from moto.sagemaker import models as sagemaker_models

from retrainer.local import moto_patches


def test_the_pinned_moto_passes_the_check():
    moto_patches.check_moto()


def test_another_moto_version_is_refused(monkeypatch):
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(RuntimeError, match="patches moto 5.2.5 internals, but moto 5.3.0 is installed"):
        moto_patches.check_moto()


def test_a_moved_internal_is_refused(monkeypatch):
    monkeypatch.delattr(sagemaker_models.SageMakerModelBackend, "create_processing_job")
    with pytest.raises(RuntimeError, match="no longer has SageMakerModelBackend.create_processing_job"):
        moto_patches.check_moto()
