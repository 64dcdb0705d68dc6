#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) inside the freshly created environment, in Snakemake's working
# directory (the repository root unless you chose otherwise): installs the sgpoison package and
# builds its Cython kernel. Set SGPOISON_SOURCE to the repository if the working directory is
# elsewhere.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation "${SGPOISON_SOURCE:-.}"
