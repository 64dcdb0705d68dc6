"""Build of the Cython Monte Carlo kernels.

By default the extension is compiled for the CPU of the machine that builds it
(``-march=native``), because the sweep kernels lose a factor 3-4 without
host-specific vector instructions.  Set ``SGPOISON_PORTABLE=1`` in the
environment of ``pip install`` to build a portable binary instead (for clusters
whose login and compute nodes have different CPUs).
"""

import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

portable = os.environ.get("SGPOISON_PORTABLE", "0") not in ("", "0", "false", "False")
# -g0: no debug information, which records the (temporary) build directory: the same sources
# built again on the same machine give the same bytes, so the code fingerprint of the kernels
# (sgpoison.io.provenance) and with it every finished simulation survive a reinstall
compile_args = ["-O3", "-fopenmp", "-fno-math-errno", "-g0"]
if not portable:
    compile_args.append("-march=native")

extensions = [
    Extension(
        f"sgpoison.mc.{name}",
        [f"src/sgpoison/mc/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        extra_compile_args=compile_args,
        extra_link_args=["-fopenmp"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    # scalar reference kernel, SIMD-lane kernels (float64, float32), multi-spin coding (src/sgpoison/mc/kernels.py)
    for name in ("_kernel", "_kernel_lanes", "_kernel_lanes32", "_kernel_multispin")
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
