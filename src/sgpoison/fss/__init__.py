"""Finite-size scaling (paper Sec. II C): from p(T, L) of one scenario to Tc, nu and a verdict.

settings      :class:`~sgpoison.fss.settings.AnalysisSettings`, :class:`~sgpoison.fss.settings.ConventionalSettings`,
              and the least data an analysis needs (``MIN_SIZES``, ``MIN_TEMPERATURES``, ``MIN_INSTANCES``)
predictions   1. the prediction files of one scenario, one per L: :func:`~sgpoison.fss.predictions.open_predictions`
stats         2. disorder average ``<p>(T, L)`` with its standard error, smoothing splines, oriented
              crossings: :func:`~sgpoison.fss.stats.disorder_average`, :func:`~sgpoison.fss.stats.smoothing_spline`,
              :func:`~sgpoison.fss.stats.oriented_root`
chain         3. crossings of successive sizes and of <p> = 1/2; 4. ``nu_ml`` from the maxima of
              d<p>/dT (Eq. 6); 5. ``Tc_linear`` from the sign change of the linear coefficient
              (Fig. 1c): :func:`~sgpoison.fss.chain.fss_chain`; errors by
              :func:`~sgpoison.fss.chain.bootstrap_chain` over disorder instances
collapse      6. data collapse onto a cubic in L^(1/nu)(T - Tc) (Eq. 4): :func:`~sgpoison.fss.collapse.fit_collapse`
verdict       7. is there a transition: :func:`~sgpoison.fss.verdict.analyze`,
              :func:`~sgpoison.fss.verdict.evaluate_checks`
estimates     8. ``estimates.json`` and ``estimates.nc``: :func:`~sgpoison.fss.estimates.write_estimates`
conventional  the reference without a network: Binder ratio and xi_L/L crossings,
              :func:`~sgpoison.fss.conventional.analyze_conventional`

The resampling and its percentile intervals are :mod:`sgpoison.bootstrap`.
"""
