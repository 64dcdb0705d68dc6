"""Monte Carlo of the 3D Edwards-Anderson spin glass (paper Sec. II A, Tables I and II).

lattice              periodic cubic lattice: :func:`~sgpoison.mc.lattice.neighbours`, bond tables
disorder             Gaussian and bimodal couplings from per-instance seeds: :func:`~sgpoison.mc.disorder.couplings`
ladder               temperature ladders: :func:`~sgpoison.mc.ladder.temperature_ladder`
observables          energy, overlap, link overlap, KPY energy (NumPy reference)
kernels              the compiled sweep kernels (``_kernel``, ``_kernel_lanes``, ``_kernel_lanes32``,
                     ``_kernel_multispin``)
                     and :func:`~sgpoison.mc.kernels.resolve_kernel`
parallel_tempering   :class:`~sgpoison.mc.parallel_tempering.SimulationParameters`, a job's
                     :func:`~sgpoison.mc.parallel_tempering.run` (checkpoint/resume) and
                     :func:`~sgpoison.mc.parallel_tempering.simulate` (NetCDF output)
thermalization       log-binning and KPY tests of a simulation file: :func:`~sgpoison.mc.thermalization.log_bin_tests`
cost                 spin-flip attempts, run time and memory of a job (for the workflow's scheduler)
calibration          the kernels' measured time per spin-flip attempt on this machine
                     (:func:`~sgpoison.mc.calibration.nanoseconds_per_flip`; ``sgpoison cost``, bench_mc.py)
"""
