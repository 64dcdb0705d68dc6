"""Finite-size scaling (paper Sec. II C): from p(T, L) of one scenario to Tc, nu and a verdict.

settings      :class:`~sgpoison.fss.settings.AnalysisSettings`, :class:`~sgpoison.fss.settings.ConventionalSettings`,
              and the least data an analysis needs (``MIN_SIZES``, ``MIN_TEMPERATURES``, ``MIN_INSTANCES``)
predictions   1. the prediction files of one scenario -- every classifier (CNN ensemble, null
              models), network and size: :func:`~sgpoison.fss.predictions.open_predictions`
resampling    2. ``<p>(T, L)`` over networks and instances, its total error and the two-level
              bootstrap (networks, instances): :func:`~sgpoison.fss.resampling.ensemble_average`
stats         splines, oriented roots, weighted lines: :func:`~sgpoison.fss.stats.smoothing_spline`,
              :func:`~sgpoison.fss.stats.oriented_roots`, :func:`~sgpoison.fss.stats.weighted_line`
chain         3. every estimator on averaged curves: crossings of all pairs and ``Tc_crossing``,
              the size ordering, the paper's chain (``nu_ml``, ``paper_Tc_linear``,
              ``paper_Tc_collapse``), the full collapse and ``Tc_linear``:
              :func:`~sgpoison.fss.chain.fss_chain`, per bootstrap sample
              :func:`~sgpoison.fss.chain.bootstrap_chain`
collapse      the data collapse onto a cubic in L^(1/nu)(T - Tc) (Eq. 4): :func:`~sgpoison.fss.collapse.fit_collapse`
verdict       4. is there a transition, and is the CNN's crossing distinguishable from the null
              models': :func:`~sgpoison.fss.verdict.analyze`, :func:`~sgpoison.fss.verdict.analyze_scenario`,
              :func:`~sgpoison.fss.verdict.evaluate_checks`, :func:`~sgpoison.fss.verdict.compare`
estimates     5. ``estimates.json`` and ``estimates.nc``: :func:`~sgpoison.fss.estimates.write_estimates`
conventional  the reference without a network: Binder ratio and xi_L/L crossings,
              :func:`~sgpoison.fss.conventional.analyze_conventional`
dose_response one poisoning scan (one scenario per dose): the dose table and the signal-loss
              rule, :func:`~sgpoison.fss.dose_response.read_doses`,
              :func:`~sgpoison.fss.dose_response.signal_loss`

The instance draws and percentile intervals are :mod:`sgpoison.bootstrap`.
"""
