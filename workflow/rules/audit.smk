# Audit of every training set before its network is trained (docs/audit.md): thermalization of
# the Gaussian data at the scenario's sweep fraction and the labels the scenario trains on.
# With audit.policy = refuse a failing audit fails its job, so that scenario is not trained.


rule audit:
    input:
        data=get_training_data,
    output:
        report="results/audit/{scenario}/L{L}.json",
    log:
        "logs/audit/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/audit/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        label_noise=scenario_parameter("label_noise"),
        t_label=network_parameter("t_label"),
        seed=network_parameter("seed"),
        validation_fraction=network_parameter("validation_fraction"),
        swap_floor=audit_parameter("swap_floor"),
        policy=audit_parameter("policy"),
        noise_estimate=get_noise_estimate_flag,
    shell:
        "sgpoison audit --data {input.data} --out {output.report}"
        " --L {wildcards.L} --scenario {wildcards.scenario}"
        " --label-noise {params.label_noise} --t-label {params.t_label}"
        " --seed {params.seed} --validation-fraction {params.validation_fraction}"
        " --swap-floor {params.swap_floor} --policy {params.policy}"
        " {params.noise_estimate} --threads {threads} > {log} 2>&1"
