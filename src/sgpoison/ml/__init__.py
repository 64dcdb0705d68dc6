"""The network and its training sets (paper Sec. III, Table III), step by step.

settings     :class:`~sgpoison.ml.settings.LabelSettings`, :class:`~sgpoison.ml.settings.TrainingConfig`,
             :class:`~sgpoison.ml.settings.PredictionSettings` (defaults and limits; no TensorFlow)
labels       1. the labels, T > t_label, and their poisoning by label noise:
             :func:`~sgpoison.ml.labels.prepare_training_set`
stream       2. overlaps streamed from NetCDF to ``tf.data``: :class:`~sgpoison.ml.stream.OverlapBlocks`
network      3. the CNN: :func:`~sgpoison.ml.network.build_model`, ``PeriodicPadding3D`` (imports Keras)
train        4. training with validation on held-out instances: :func:`~sgpoison.ml.train.train`
model_io     the ``.keras`` model with its metadata, the history CSV
predict      5. p(T) of every instance of a (bimodal) file: :func:`~sgpoison.ml.predict.predict`

TensorFlow is imported only by the functions that run it (and by ``network``).
"""
