"""The compiled ScarceGAN training loop: sampling, both updates and loss tracking in one graph.

``run(n)`` executes n iterations inside one ``tf.function`` call (a ``tf.range`` loop), so
Python is entered once per sample interval, not once per batch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import losses
from .hyperparameters import Hyperparameters
from .model import build_classifier, build_discriminator, build_generator
from .schema import RISKY_INDEX, SUPERVISED_CLASSES

LOSS_NAMES = ("supervised", "unsupervised", "generator", "accuracy")


def set_seed(seed: int) -> None:
    keras.utils.set_random_seed(seed)


def sampling_cdf(labels: np.ndarray, balanced: bool) -> np.ndarray:
    """Cumulative sampling distribution over labelled rows: each class equally likely if balanced."""
    if balanced:
        classes, counts = np.unique(labels, return_inverse=False, return_counts=True)
        per_class = dict(zip(classes.tolist(), counts.tolist(), strict=True))
        weights = np.array([1.0 / per_class[y] for y in labels.tolist()])
    else:
        weights = np.ones(len(labels))
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf.astype(np.float32)


STREAM_SHUFFLE_BUFFER = 65_536  # unlabeled players held for shuffling when streamed


def parquet_stream(batches, n_features: int):
    """tf.data rows (float32 [n_features]) from a callable returning an iterator of 2-d arrays
    (scarcegan.shards.iter_split batches): memory = one batch + the shuffle buffer."""
    dataset = tf.data.Dataset.from_generator(
        lambda: (np.asarray(b, np.float32) for b in batches()),
        output_signature=tf.TensorSpec([None, n_features], tf.float32))
    return dataset.unbatch()


class ScarceGANTrainer:
    def __init__(self, hp: Hyperparameters, x_labelled: np.ndarray, y_labelled: np.ndarray,
                 x_unlabeled: np.ndarray):
        set_seed(hp.seed)
        self.hp = hp
        n_features = x_labelled.shape[1]
        self.generator = build_generator(hp.latent_dim, n_features, hp.generator_units, hp.leaky_slope)
        self.discriminator = build_discriminator(n_features, hp.trunk, hp.leaky_slope)
        self.classifier = build_classifier(self.discriminator)
        self.d_optimizer = keras.optimizers.Adam(hp.learning_rate, beta_1=hp.adam_beta1)
        self.g_optimizer = keras.optimizers.Adam(hp.generator_learning_rate, beta_1=hp.adam_beta1)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.rng = tf.random.Generator.from_seed(hp.seed)

        self.x_labelled = tf.constant(x_labelled, tf.float32)
        self.y_labelled = tf.constant(y_labelled, tf.int32)
        # unlabeled players: in memory (gathered at random), or a tf.data stream over the Parquet
        # shards (shuffle buffer, repeated) when there are too many to hold (docs/decisions/0402)
        self.unlabeled_stream = None
        if isinstance(x_unlabeled, tf.data.Dataset):
            self.unlabeled_stream = iter(x_unlabeled.shuffle(STREAM_SHUFFLE_BUFFER, seed=hp.seed).repeat()
                                         .batch(hp.unlabeled_batch_size, drop_remainder=True).prefetch(2))
            self.x_unlabeled = None
        else:
            self.x_unlabeled = tf.constant(x_unlabeled, tf.float32)
        self.cdf = tf.constant(sampling_cdf(np.asarray(y_labelled), hp.effective_balanced_batches))
        self.alpha = float(hp.effective_alpha)
        self.beta = float(hp.effective_beta)
        self.pull_away_weight = float(hp.effective_pull_away_weight)
        self.feature_matching = hp.generator_objective == "feature-matching"
        self.run = tf.function(self._run, jit_compile=hp.jit_compile and self.unlabeled_stream is None,
                               reduce_retracing=True)
        self._predict = tf.function(lambda x: self.classifier(x, training=False))

    # ---- one iteration ----
    def _sample(self):
        b, bu = self.hp.batch_size, self.hp.unlabeled_batch_size
        u = self.rng.uniform([b], dtype=tf.float32)
        idx_l = tf.minimum(tf.searchsorted(self.cdf, u, side="right"), tf.size(self.cdf) - 1)
        xl = tf.gather(self.x_labelled, idx_l)
        yl = tf.gather(self.y_labelled, idx_l)
        if self.unlabeled_stream is not None:
            return xl, yl, next(self.unlabeled_stream)
        idx_u = self.rng.uniform([bu], 0, tf.shape(self.x_unlabeled)[0], dtype=tf.int32)
        xu = tf.gather(self.x_unlabeled, idx_u)
        return xl, yl, xu

    def step(self, xl, yl, xu, z_d, z_g):
        """One discriminator update then one generator update; returns the four tracked values."""
        b = tf.shape(xl)[0]
        bu = tf.shape(xu)[0]
        with tf.GradientTape() as tape:
            fake = self.generator(z_d, training=True)
            sup, unsup, _ = self.discriminator(tf.concat([xl, xu, fake], axis=0), training=True)
            sup_l = sup[:b]
            d_sup = losses.supervised_loss(yl, sup_l, self.alpha, self.beta)
            d_unsup = losses.unsupervised_loss(unsup[b:b + bu], unsup[b + bu:], self.alpha)
            d_loss = d_sup + d_unsup
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables, strict=True))

        with tf.GradientTape() as tape:
            fake = self.generator(z_g, training=True)
            _, unsup, features = self.discriminator(tf.concat([xu, fake], axis=0), training=True)
            if self.feature_matching:
                g_loss = losses.bad_generator_loss(features[:bu], features[bu:], self.pull_away_weight)
            else:
                g_loss = losses.standard_generator_loss(unsup[bu:])
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables, strict=True))

        accuracy = tf.reduce_mean(tf.cast(
            tf.equal(tf.argmax(sup_l, axis=-1, output_type=tf.int32), yl), tf.float32))
        return tf.stack([d_sup, d_unsup, g_loss, accuracy])

    def _run(self, n_steps):
        total = tf.zeros([len(LOSS_NAMES)])
        for _ in tf.range(n_steps):
            xl, yl, xu = self._sample()
            z_d = self.rng.normal([self.hp.unlabeled_batch_size, self.hp.latent_dim])
            z_g = self.rng.normal([self.hp.unlabeled_batch_size, self.hp.latent_dim])
            total += self.step(xl, yl, xu, z_d, z_g)
        return total / tf.cast(n_steps, tf.float32)

    # ---- evaluation helpers ----
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self._predict(tf.constant(x, tf.float32)).numpy()


def flag_risky(probabilities: np.ndarray) -> np.ndarray:
    """The decision rule: flag a player when risky is the most probable supervised class."""
    return probabilities.argmax(axis=1) == RISKY_INDEX


def risky_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Validation metrics for the risky class; ``labels`` are indices into SUPERVISED_CLASSES."""
    from .metrics import binary_metrics

    truth = np.asarray(labels) == RISKY_INDEX
    m = binary_metrics(truth, flag_risky(probabilities), probabilities[:, RISKY_INDEX])
    return {k: m[k] for k in ("precision", "recall", "f1", "share_flagged", "auc_pr", "tp", "fp", "fn")}


def label_indices(labels) -> np.ndarray:
    index = {c: i for i, c in enumerate(SUPERVISED_CLASSES)}
    return np.array([index[str(v)] for v in labels], dtype=np.int32)
