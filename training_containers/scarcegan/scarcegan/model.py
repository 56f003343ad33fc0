"""Generator and two-headed discriminator of ScarceGAN (Chakrabarty et al., CIKM'21)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from .schema import SUPERVISED_CLASSES, UNSUPERVISED_CLASSES


def build_generator(latent_dim: int, n_features: int, hidden: int = 30,
                    slope: float = 0.2) -> keras.Model:
    """z -> Dense(hidden) + BatchNorm + LeakyReLU -> Dense(n_features), linear: features are scaled."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(hidden, name="g_dense")(z)
    h = layers.BatchNormalization(name="g_batchnorm")(h)
    h = layers.LeakyReLU(negative_slope=slope, name="g_leaky")(h)
    x = layers.Dense(n_features, name="g_features")(h)
    return keras.Model(z, x, name="generator")


def build_discriminator(n_features: int, trunk: Sequence[int] = (15, 21, 8),
                        slope: float = 0.2) -> keras.Model:
    """Shared trunk with two logit heads.

    Outputs: supervised logits over SUPERVISED_CLASSES, unsupervised logits over
    UNSUPERVISED_CLASSES, and the last trunk layer (used for feature matching).
    """
    x = keras.Input((n_features,), name="features")
    h = x
    for i, units in enumerate(trunk):
        h = layers.Dense(units, name=f"d_dense_{i}")(h)
        h = layers.LeakyReLU(negative_slope=slope, name=f"d_leaky_{i}")(h)
    supervised = layers.Dense(len(SUPERVISED_CLASSES), name="supervised_logits")(h)
    unsupervised = layers.Dense(len(UNSUPERVISED_CLASSES), name="unsupervised_logits")(h)
    return keras.Model(x, [supervised, unsupervised, h], name="discriminator")


def build_classifier(discriminator: keras.Model) -> keras.Model:
    """The deployable model: scaled features -> supervised class probabilities (shares weights)."""
    supervised_logits = discriminator.outputs[0]
    probabilities = layers.Softmax(name="class_probabilities")(supervised_logits)
    return keras.Model(discriminator.inputs[0], probabilities, name="scarcegan_classifier")
