"""Audit of a training set before it poisons the network (docs/audit.md).

settings        :class:`~sgpoison.audit.settings.AuditConfig` (defaults and limits), ``POLICIES``
thermalization  1. is every temperature in equilibrium: log bins, KPY identity, swap
                acceptance, run length: :func:`~sgpoison.audit.thermalization.audit_thermalization`
labels          2. do the labels agree with the temperatures and with the data:
                :func:`~sgpoison.audit.labels.label_agreement`, :func:`~sgpoison.audit.labels.audit_labels`
crossval        out-of-fold probabilities of the CNN or a null model:
                :func:`~sgpoison.audit.crossval.out_of_fold_probabilities`,
                :func:`~sgpoison.audit.crossval.out_of_fold_null_probabilities`
noise           the label-noise rate by confident learning: :func:`~sgpoison.audit.noise.estimate_label_noise`
report          3. the report and its verdict: :func:`~sgpoison.audit.report.audit_training_set`,
                :func:`~sgpoison.audit.report.scenario_verdict` (all sizes of a scenario)
"""
