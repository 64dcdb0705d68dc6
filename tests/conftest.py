import os

# TensorFlow logs are noise in test output; never touch TF_ENABLE_ONEDNN_OPTS (50x slower).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
