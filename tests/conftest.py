import os

# TensorFlow logs are noise in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# before any test module imports keras or tensorflow: sgpoison.ml turns oneDNN on where
# TensorFlow would not (AVX2-only CPUs: Conv3D gradients ~70x slower without it)
import sgpoison.ml  # noqa: E402,F401
