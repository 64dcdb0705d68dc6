"""sgpoison: poisoned training sets for machine learning the 3D Edwards-Anderson spin glass.

Modules
-------
lattice        cubic lattice with periodic boundaries, neighbour and bond tables
disorder       Gaussian and bimodal couplings from per-instance seeds
ladder         temperature ladders
engine         parallel-tempering Monte Carlo driver (checkpoint/resume, NetCDF output)
thermalization KPY identity and log-binning checks of simulation files
observables    energy, overlap, link overlap of configurations (NumPy reference)
dataset        the NetCDF formats: writing atomically, reading with validation
provenance     version, git commit, creation time for every output
network        the CNN (Keras) and its periodic padding layer
training       training with label noise, prediction of p(T, L)
analysis       finite-size scaling of p(T, L): crossings, nu_ml, Tc, data collapse
baseline       conventional Binder ratio and correlation length from the overlaps
figures        matplotlib figures (paper Fig. 1 panels, baseline, summary)
summary        results table over all scenarios
audit          thermalization and label audit of training sets
"""

__version__ = "0.1.0"
