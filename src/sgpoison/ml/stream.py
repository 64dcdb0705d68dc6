"""Streaming the overlaps of a simulation file to the network, one NetCDF chunk at a time.

The data go from the NetCDF file through ``tf.data`` one (instance, temperature) block
of snapshots at a time (one compressed chunk), the blocks in a fresh random order on
every pass, the snapshots mixed across blocks by a shuffle buffer; the whole set is
never loaded. TensorFlow is imported by the functions that need it.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from sgpoison.errors import DataFormatError



class OverlapBlocks:
    """(instance, temperature) blocks of overlap snapshots of a simulation file, with labels.

    Each block is one NetCDF chunk: the ``N_con`` snapshots of one instance at
    one temperature, int8 of shape (N_con, L, L, L), with its label vector.

    Parameters
    ----------
    path : path-like
        Simulation file (already validated).
    positions : ndarray of int, shape (n,)
        Positions along the file's ``instance`` dimension.
    labels : ndarray, shape (n, N_T, N_con), int
        Label of every snapshot of the selected instances.
    """

    def __init__(self, path: str | os.PathLike, positions: np.ndarray, labels: np.ndarray):
        self.path = Path(path)
        self.positions = np.asarray(positions, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int32)
        if self.labels.ndim != 3 or self.labels.shape[0] != len(self.positions):
            raise ValueError(
                f"labels of shape {self.labels.shape} do not match {len(self.positions)} instances")
        self.n_temperatures, self.n_snapshots = self.labels.shape[1:]

    @property
    def n_blocks(self) -> int:
        return len(self.positions) * self.n_temperatures

    def block_index(self) -> np.ndarray:
        """All blocks as rows (k, t): k indexes ``positions``, t the temperature."""
        k, t = np.meshgrid(np.arange(len(self.positions)), np.arange(self.n_temperatures), indexing="ij")
        return np.stack([k.ravel(), t.ravel()], axis=1)

    def iterate(self, order_seed: int | None = None,
                repeat: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(overlaps int8 (N_con, L, L, L), labels int32 (N_con,))`` block by block.

        ``order_seed=None``: file order (instance-major), else a random order,
        drawn afresh on every pass. ``repeat``: loop forever.
        """
        import netCDF4

        rng = None if order_seed is None else np.random.default_rng(order_seed)
        blocks = self.block_index()
        if self.n_blocks == 0:
            return
        with netCDF4.Dataset(self.path, "r") as nc:
            var = nc.variables["overlap"]
            var.set_auto_maskandscale(False)
            while True:
                order = blocks if rng is None else blocks[rng.permutation(len(blocks))]
                for k, t in order:
                    data = np.asarray(var[self.positions[k], t], dtype=np.int8)
                    yield data, self.labels[k, t]
                if not repeat:
                    return

    def load(self, max_examples: int | None = None,
             order_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Read whole blocks into memory, in random order, until ``max_examples`` are reached.

        Returns
        -------
        overlaps : ndarray, shape (n, L, L, L), int8
        labels : ndarray, shape (n,), int32
        """
        n_blocks = self.n_blocks
        if max_examples is not None:
            n_blocks = min(n_blocks, math.ceil(max_examples / self.n_snapshots))
        xs, ys = [], []
        with contextlib.closing(self.iterate(order_seed=order_seed)) as stream:
            for data, labels in stream:
                xs.append(data)
                ys.append(labels)
                if len(xs) == n_blocks:
                    break
        return np.concatenate(xs), np.concatenate(ys)

    def batches(self, batch_size: int, shuffle_buffer: int = 10_000, order_seed: int | None = None,
                shuffle_seed: int | None = None, repeat: bool = True,
                transform: Callable[[np.ndarray], np.ndarray] | None = None,
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield batches ``(int8 (batch, L, L, L), int32 (batch,))`` of single snapshots.

        With ``shuffle_seed`` (training; needs ``repeat``) the snapshots pass
        through a shuffle buffer of ``shuffle_buffer`` examples, as
        ``tf.data.Dataset.shuffle``: each output example is drawn uniformly
        from the buffer and its slot refilled with the next snapshot of the
        block stream, so a batch mixes many instances and temperatures. Blocks
        arrive in random order if ``order_seed`` is given (fresh order every
        pass). Without ``shuffle_seed`` the snapshots keep the stream order and
        the last batch may be incomplete. ``transform`` (e.g. a
        :class:`~sgpoison.ml.augment.SymmetryAugmentation`) maps each int8 batch of overlaps
        to a new one of the same shape before it is yielded.

        Raises
        ------
        ValueError
            If ``shuffle_seed`` is given without ``repeat``.
        """
        if shuffle_seed is not None and not repeat:
            raise ValueError("shuffled batches need an endless stream (repeat=True)")
        stream = _ExampleStream(self.iterate(order_seed=order_seed, repeat=repeat))
        if transform is None:
            def transform(x):
                return x
        try:
            if shuffle_seed is None:
                while len((batch := stream.take(batch_size))[0]):
                    yield transform(batch[0]), batch[1]
                return
            rng = np.random.default_rng(shuffle_seed)
            buffer_x, buffer_y = stream.take(max(int(shuffle_buffer), batch_size))
            while True:
                slots = rng.choice(len(buffer_x), batch_size, replace=False)
                x, y = buffer_x[slots], buffer_y[slots]
                buffer_x[slots], buffer_y[slots] = stream.take(batch_size)
                yield transform(x), y
        finally:
            stream.close()

    def dataset(self, batch_size: int, shuffle_buffer: int = 10_000, order_seed: int | None = None,
                shuffle_seed: int | None = None, repeat: bool = True, threads: int | None = None,
                transform: Callable[[np.ndarray], np.ndarray] | None = None):
        """A ``tf.data.Dataset`` of ``(float32 (batch, L, L, L, 1), int32 (batch,))`` batches.

        The batches of :meth:`batches` (int8, read block by block from the
        NetCDF file, never the whole set, and passed through ``transform``) are cast to
        float32 on the fly by ``tf.data`` and prefetched.
        """
        import tensorflow as tf

        shape = tuple(self._lattice_shape())
        signature = (tf.TensorSpec((None, *shape), tf.int8), tf.TensorSpec((None,), tf.int32))
        ds = tf.data.Dataset.from_generator(
            lambda: self.batches(batch_size, shuffle_buffer, order_seed, shuffle_seed, repeat, transform),
            output_signature=signature)
        ds = ds.map(_to_network_input)
        ds = ds.prefetch(2)
        options = tf.data.Options()
        options.deterministic = True
        if threads:
            options.threading.private_threadpool_size = int(threads)
        return ds.with_options(options)

    def _lattice_shape(self) -> tuple[int, int, int]:
        import netCDF4

        with netCDF4.Dataset(self.path, "r") as nc:
            return tuple(nc.variables["overlap"].shape[3:])


class _ExampleStream:
    """Take single snapshots, n at a time, from an iterator of blocks."""

    def __init__(self, blocks: Iterator[tuple[np.ndarray, np.ndarray]]):
        self.blocks = blocks
        self.x = self.y = None
        self.position = 0

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``n`` examples (fewer only when the blocks run out)."""
        xs, ys = [], []
        while n > 0:
            if self.x is None or self.position == len(self.x):
                try:
                    self.x, self.y = next(self.blocks)
                except StopIteration:
                    break
                self.position = 0
            k = min(n, len(self.x) - self.position)
            xs.append(self.x[self.position:self.position + k])
            ys.append(self.y[self.position:self.position + k])
            self.position += k
            n -= k
        if not xs:
            shape = self.x.shape[1:] if self.x is not None else (0, 0, 0)
            return np.zeros((0, *shape), np.int8), np.zeros(0, np.int32)
        return np.concatenate(xs), np.concatenate(ys)

    def close(self) -> None:
        close = getattr(self.blocks, "close", None)
        if close is not None:
            close()


def _to_network_input(x, y):
    import tensorflow as tf

    return tf.cast(x, tf.float32)[..., tf.newaxis], y


def to_network_input(overlaps: np.ndarray) -> np.ndarray:
    """Convert int8 overlaps (n, L, L, L) to the network input float32 (n, L, L, L, 1)."""
    return np.asarray(overlaps, dtype=np.float32)[..., np.newaxis]


def snapshot_probabilities(model, path: str | os.PathLike, positions: np.ndarray, n_temperatures: int,
                           n_snapshots: int, batch_size: int = 1000,
                           threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Classify every snapshot of some instances of a simulation file, streamed in file order.

    Parameters
    ----------
    model : keras.Model
        Output (batch, 2) probabilities, e.g. :func:`~sgpoison.ml.network.symmetrized_model`.
    path : path-like
        Simulation file (already validated).
    positions : int array, shape (n,)
        Positions along the file's ``instance`` dimension.
    n_temperatures, n_snapshots : int
    batch_size : int
        Snapshots per forward pass.
    threads : int, optional
        tf.data threads.

    Returns
    -------
    p_high : float64 array, shape (n, N_T, N_con)
        P(label 1) of each snapshot.
    high : bool array, same shape
        argmax = label 1 (ties count as label 0).

    Raises
    ------
    DataFormatError
        If the file yields another number of snapshots than expected.
    """
    import tensorflow as tf

    positions = np.asarray(positions, dtype=np.int64)
    shape = (len(positions), int(n_temperatures), int(n_snapshots))
    if shape[0] == 0:
        return np.zeros(shape), np.zeros(shape, bool)
    blocks = OverlapBlocks(path, positions, np.zeros(shape, np.int32))
    n_batches = math.ceil(int(np.prod(shape)) / int(batch_size))
    dataset = blocks.dataset(int(batch_size), order_seed=None, repeat=False, threads=threads)
    dataset = dataset.map(lambda x, y: x).apply(tf.data.experimental.assert_cardinality(n_batches))
    probabilities = np.asarray(model.predict(dataset, verbose=0))
    if probabilities.shape != (np.prod(shape), 2):
        raise DataFormatError(f"{path}: read {probabilities.shape[0]} snapshots, expected {np.prod(shape)}")
    p_high = probabilities[:, 1].astype(np.float64).reshape(shape)
    high = (np.argmax(probabilities, axis=1) == 1).reshape(shape)
    return p_high, high
