"""The classifiers and their training sets (paper Sec. III, Table III), step by step.

settings     :class:`~sgpoison.ml.settings.LabelSettings`, :class:`~sgpoison.ml.settings.TrainingConfig`,
             :class:`~sgpoison.ml.settings.NullSettings`, :class:`~sgpoison.ml.settings.PredictionSettings`
             (defaults and limits; no TensorFlow)
labels       1. the labels, T > t_label, their poisoning by label noise, the seeds of network k of
             size L: :func:`~sgpoison.ml.labels.training_set`
stream       2. overlaps streamed from NetCDF to ``tf.data``: :class:`~sgpoison.ml.stream.OverlapBlocks`;
             a model applied to a file's snapshots: :func:`~sgpoison.ml.stream.snapshot_probabilities`
augment      symmetry images of training batches: :class:`~sgpoison.ml.augment.SymmetryAugmentation`
network      3. the CNN: :func:`~sgpoison.ml.network.build_model`, ``PeriodicPadding3D``,
             :func:`~sgpoison.ml.network.symmetrized_model`, devices (imports Keras)
evaluation   loss and accuracies over held-out instances (no TensorFlow)
train        4. training with validation on held-out instances: :func:`~sgpoison.ml.train.train`
model_io     the ``.keras`` model with its metadata, the history CSV, the prediction file format
             (:func:`~sgpoison.ml.model_io.prediction_dataset`)
predict      5. p(T) of every instance of a (bimodal) file: :func:`~sgpoison.ml.predict.predict`
flops        analytic FLOP counts of the network and its measured CPU training speed
             (:func:`~sgpoison.ml.flops.training_flops`; no TensorFlow)
null         the null models: logistic regression on q^2 and the link overlap
             (:func:`~sgpoison.ml.null.train_null`, :func:`~sgpoison.ml.null.predict_null`; scikit-learn)

TensorFlow is imported only by the functions that run it (and by ``network``).

oneDNN: TensorFlow enables its oneDNN kernels by default only on CPUs with AVX512_VNNI, AVX512_BF16,
AMX or AVX_VNNI; elsewhere (e.g. AVX2-only CPUs, most laptops) Conv3D's gradient falls back to a
kernel ~70x slower. Importing this package sets ``TF_ENABLE_ONEDNN_OPTS=1`` unless the variable is
already set (also if set empty), before any TensorFlow import of the package. Measured on an
AVX2-only AMD EPYC, one thread, L = 8, batch 1000: one training step 2.03 s without, 0.0295 s with
(``benchmarks/bench_training.py``; docs/network.md).
"""

import os

if not os.environ.get("TF_ENABLE_ONEDNN_OPTS"):
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
