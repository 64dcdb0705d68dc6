"""sgpoison: poisoned training sets for machine learning the 3D Edwards-Anderson spin glass.

Reproduces C. Fang, A. Barzegar, H. G. Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001
(2020). One package per concern; dependencies point one way, io <- mc <- ml <- audit and
io <- fss <- report (report, the top, also reads the audit reports):

io        file formats (NetCDF), strict JSON, atomic writes, provenance
mc        lattice, disorder, temperature ladder, parallel-tempering Monte Carlo, log-binning tests
ml        the CNN, labels and their poisoning, streaming, training, prediction of p(T, L)
audit     thermalization and label audit of a training set, before training
fss       finite-size scaling of p(T, L) (paper Sec. II C) and the conventional analysis
report    the results table and the figures

Shared by all: ``errors`` (the exceptions), ``settings`` (settings dataclasses whose defaults
and limits are written once), ``bootstrap`` (resampling over disorder instances, intervals);
``config`` checks a study configuration, ``cli`` is the ``sgpoison`` command line.
"""

__version__ = "0.1.0"
