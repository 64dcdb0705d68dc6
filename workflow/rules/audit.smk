# Audit of every training set before its network is trained (docs/audit.md): thermalization of
# the Gaussian data at the scenario's sweep fraction and the labels the scenario trains on.
# With audit.policy = refuse a failing audit fails its job, so that scenario is not trained.


rule audit:
    input:
        data=get_training_data,
    output:
        report=AUDIT_REPORT,
    log:
        "logs/audit/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/audit/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    params:
        label_noise=get_value("labels.label_noise"),
        label_noise_mode=get_value("labels.label_noise_mode"),
        t_label=get_value("labels.t_label"),
        seed=get_value("network.seed"),
        validation_fraction=get_value("network.validation_fraction"),
        swap_floor=get_value("audit.swap_floor"),
        policy=get_value("audit.policy"),
        noise_estimate=get_flag("audit.noise_estimate", "", "--no-noise-estimate"),
        noise_classifier=get_value("audit.noise_classifier"),
        settings=get_settings("audit"),
        code=get_code("audit"),
    shell:
        "sgpoison audit --data {input.data} --out {output.report}"
        " --L {wildcards.L} --scenario {wildcards.scenario}"
        " --label-noise {params.label_noise} --label-noise-mode {params.label_noise_mode}"
        " --t-label {params.t_label}"
        " --seed {params.seed} --validation-fraction {params.validation_fraction}"
        " --swap-floor {params.swap_floor} --policy {params.policy}"
        " {params.noise_estimate} --noise-classifier {params.noise_classifier}"
        " --threads {threads} > {log} 2>&1"
