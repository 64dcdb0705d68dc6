"""Results of a study: the table of all scenarios, the figures, the provenance audit, the cost.

summary   ``results.csv`` / ``results.nc``: :func:`~sgpoison.report.summary.build_table`,
          :func:`~sgpoison.report.summary.write_summary`
figures   paper Fig. 1 per scenario (:func:`~sgpoison.report.figures.plot_fss`), the conventional
          analysis (:func:`~sgpoison.report.figures.plot_conventional`), Tc of every scenario
          (:func:`~sgpoison.report.figures.plot_tc_summary`); PNG and PDF
dose_response the outputs of ``sgpoison dose-response`` (:func:`~sgpoison.report.dose_response.write_dose_response`;
          figure :func:`~sgpoison.report.figures.plot_dose_response`)
provenance what every result file records and whether it is stale for a configuration
          (``sgpoison provenance``: :func:`~sgpoison.report.provenance.audit_results`)
cost      core-hours and wall time of every stage of a configuration, from measured speeds
          (``sgpoison cost``: :func:`~sgpoison.report.cost.study_cost`)
"""
