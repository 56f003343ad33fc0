"""ScarceGAN losses on small cases computed by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scarcegan import losses
from scarcegan.schema import RISKY_INDEX, SUPERVISED_CLASSES, UNKNOWN_INDEX

DORMANT = SUPERVISED_CLASSES.index("dormant")


def test_negatives_get_leeway_to_unknown_and_risky_stays_hard():
    targets = losses.supervised_targets(tf.constant([DORMANT, RISKY_INDEX]), alpha=0.7).numpy()
    np.testing.assert_allclose(targets[0], [0.7, 0, 0, 0, 0.3], atol=1e-7)
    np.testing.assert_allclose(targets[1], [0, 0, 0, 1, 0], atol=1e-7)


def test_soft_cross_entropy_with_uniform_logits_is_log_k():
    targets = losses.supervised_targets(tf.constant([DORMANT]), alpha=0.7)
    value = losses.soft_cross_entropy(targets, tf.zeros([1, 5])).numpy()
    assert value == pytest.approx(math.log(5), rel=1e-6)


def test_soft_cross_entropy_matches_hand_computation():
    # logits favour unknown: p = softmax([0,0,0,0,ln 4]) = [1/8]*4 + [1/2]
    logits = tf.constant([[0.0, 0.0, 0.0, 0.0, math.log(4.0)]])
    targets = losses.supervised_targets(tf.constant([DORMANT]), alpha=0.7)
    expected = -(0.7 * math.log(1 / 8) + 0.3 * math.log(1 / 2))
    assert losses.soft_cross_entropy(targets, logits).numpy() == pytest.approx(expected, rel=1e-6)


def test_false_flag_penalty_is_share_of_risky_mass_on_non_risky():
    # sample 0 (risky) p_risky = 1/2, sample 1 (dormant) p_risky = 1/4
    logits = tf.constant([[0.0, 0.0, 0.0, math.log(3.0), -1e9], [0.0, 0.0, 0.0, 0.0, -1e9]])
    labels = tf.constant([RISKY_INDEX, DORMANT])
    penalty = losses.false_flag_penalty(labels, logits).numpy()
    assert penalty == pytest.approx(0.25 / 0.75, rel=1e-5)


def test_supervised_loss_adds_beta_times_penalty():
    logits = tf.constant([[0.0, 0.0, 0.0, 0.0, 0.0]] * 2)
    labels = tf.constant([RISKY_INDEX, DORMANT])
    ce = math.log(5)
    penalty = 0.5  # equal risky mass on both
    got = losses.supervised_loss(labels, logits, alpha=0.7, beta=0.1).numpy()
    assert got == pytest.approx(ce + 0.1 * penalty, rel=1e-6)


def test_unsupervised_loss_targets_healthy_unknown_for_real_and_fake_for_generated():
    real = tf.constant([[math.log(2.0), 0.0, 0.0]])  # p = [1/2, 1/4, 1/4]
    fake = tf.constant([[0.0, 0.0, math.log(2.0)]])  # p_fake = 1/2
    expected = -(0.7 * math.log(0.5) + 0.3 * math.log(0.25)) - math.log(0.5)
    got = losses.unsupervised_loss(real, fake, alpha=0.7).numpy()
    assert got == pytest.approx(expected, rel=1e-6)


def test_feature_matching_is_mean_squared_difference_of_batch_means():
    real = tf.constant([[1.0, 2.0], [3.0, 4.0]])  # mean [2, 3]
    fake = tf.constant([[0.0, 0.0], [2.0, 2.0]])  # mean [1, 1]
    assert losses.feature_matching(real, fake).numpy() == pytest.approx((1 + 4) / 2)


def test_pull_away_is_zero_for_orthogonal_and_one_for_parallel_samples():
    assert losses.pull_away(tf.constant([[1.0, 0.0], [0.0, 2.0]])).numpy() == pytest.approx(0.0, abs=1e-6)
    assert losses.pull_away(tf.constant([[1.0, 1.0], [2.0, 2.0]])).numpy() == pytest.approx(1.0, rel=1e-5)


def test_standard_generator_loss_is_minus_log_not_fake():
    fake = tf.constant([[0.0, 0.0, math.log(2.0)]])  # p_fake = 1/2
    assert losses.standard_generator_loss(fake).numpy() == pytest.approx(-math.log(0.5), rel=1e-5)


def test_unknown_is_last_class():
    assert UNKNOWN_INDEX == len(SUPERVISED_CLASSES) - 1
