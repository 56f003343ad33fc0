"""ScarceGAN losses as plain functions of logits, so small cases can be checked by hand.

Supervised head (classes dormant, normal, heavy, risky, unknown):
  * risky labels are trusted: target is one-hot risky;
  * negative labels are weak: target is ``alpha`` on the labelled class and ``1 - alpha`` on
    unknown (the "leeway"), so a mislabelled escalating player can escape to unknown;
  * ``beta`` times the soft share of predicted-risky mass that falls on non-risky samples.
Unsupervised head (healthy, unknown, fake): real unlabelled -> ``alpha`` healthy +
``1 - alpha`` unknown; generated -> fake.
Generator ("bad generator"): feature matching on the trunk plus the pull-away term, which
spreads samples into the low-density gaps between classes instead of copying the data.
"""

from __future__ import annotations

import tensorflow as tf

from .schema import RISKY_INDEX, SUPERVISED_CLASSES, UNKNOWN_INDEX, UNSUPERVISED_CLASSES

EPSILON = 1e-8
HEALTHY, UNSUP_UNKNOWN, FAKE = (UNSUPERVISED_CLASSES.index(c) for c in ("healthy", "unknown", "fake"))


def supervised_targets(labels: tf.Tensor, alpha: float) -> tf.Tensor:
    """Soft targets [batch, 5] for integer labels (indices into SUPERVISED_CLASSES)."""
    n = len(SUPERVISED_CLASSES)
    labels = tf.cast(labels, tf.int32)
    hard = tf.one_hot(labels, n)
    leeway = alpha * hard + (1.0 - alpha) * tf.one_hot(tf.fill(tf.shape(labels), UNKNOWN_INDEX), n)
    is_risky = tf.equal(labels, RISKY_INDEX)[:, None]
    return tf.where(is_risky, hard, leeway)


def soft_cross_entropy(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean over the batch of -sum(targets * log_softmax(logits))."""
    return tf.reduce_mean(-tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=-1))


def false_flag_penalty(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Soft false-discovery rate: predicted-risky mass on non-risky samples / all risky mass."""
    p_risky = tf.nn.softmax(logits)[:, RISKY_INDEX]
    not_risky = tf.cast(tf.not_equal(tf.cast(labels, tf.int32), RISKY_INDEX), p_risky.dtype)
    return tf.reduce_sum(p_risky * not_risky) / (tf.reduce_sum(p_risky) + EPSILON)


def supervised_loss(labels: tf.Tensor, logits: tf.Tensor, alpha: float, beta: float) -> tf.Tensor:
    return (soft_cross_entropy(supervised_targets(labels, alpha), logits)
            + beta * false_flag_penalty(labels, logits))


def unsupervised_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor, alpha: float) -> tf.Tensor:
    n = len(UNSUPERVISED_CLASSES)
    real_batch = tf.shape(real_logits)[0]
    real_targets = (alpha * tf.one_hot(tf.fill([real_batch], HEALTHY), n)
                    + (1.0 - alpha) * tf.one_hot(tf.fill([real_batch], UNSUP_UNKNOWN), n))
    fake_targets = tf.one_hot(tf.fill([tf.shape(fake_logits)[0]], FAKE), n)
    return (soft_cross_entropy(real_targets, real_logits)
            + soft_cross_entropy(fake_targets, fake_logits))


def feature_matching(real_features: tf.Tensor, fake_features: tf.Tensor) -> tf.Tensor:
    """Mean squared distance between the batch means of trunk features (real is a constant)."""
    diff = tf.reduce_mean(tf.stop_gradient(real_features), axis=0) - tf.reduce_mean(fake_features, axis=0)
    return tf.reduce_mean(tf.square(diff))


def pull_away(features: tf.Tensor) -> tf.Tensor:
    """Mean squared cosine similarity over distinct pairs of generated samples."""
    normed = features / (tf.norm(features, axis=1, keepdims=True) + EPSILON)
    similarity = tf.matmul(normed, normed, transpose_b=True)
    n = tf.cast(tf.shape(features)[0], features.dtype)
    off_diagonal = tf.reduce_sum(tf.square(similarity)) - tf.reduce_sum(tf.square(tf.linalg.diag_part(similarity)))
    return off_diagonal / (n * (n - 1.0))


def bad_generator_loss(real_features: tf.Tensor, fake_features: tf.Tensor,
                       pull_away_weight: float) -> tf.Tensor:
    return feature_matching(real_features, fake_features) + pull_away_weight * pull_away(fake_features)


def standard_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating GAN loss: make generated samples look not-fake, -log(1 - p_fake)."""
    p_fake = tf.nn.softmax(fake_logits)[:, FAKE]
    return tf.reduce_mean(-tf.math.log(1.0 - p_fake + EPSILON))
