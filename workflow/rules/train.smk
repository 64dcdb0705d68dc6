# One convolutional network per (L, scenario), trained on Gaussian overlaps at the scenario's
# sweep fraction with the scenario's label noise. Scenario settings enter as params, so a
# changed scenario reruns its own training (and what depends on it) only.


rule train:
    input:
        data=get_training_data,
        # trained only after its training set has been audited (and, with audit.policy
        # refuse, passed)
        audit=AUDIT_REPORT,
    output:
        model=MODEL,
        history=MODEL_HISTORY,
        metadata=MODEL_METADATA,
    log:
        "logs/train/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/train/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    params:
        label_noise=get_value("scenario.label_noise"),
        t_label=get_value("network.t_label"),
        iterations=get_value("network.iterations"),
        batch_size=get_value("network.batch_size"),
        learning_rate=get_value("network.learning_rate"),
        padding=get_value("network.padding"),
        validation_fraction=get_value("network.validation_fraction"),
        seed=get_value("network.seed"),
        deterministic=get_flag("network.deterministic", "--deterministic", ""),
        settings=get_settings("train"),
        code=get_code("train"),
    shell:
        "sgpoison train --data {input.data} --out {output.model}"
        " --history {output.history} --metadata {output.metadata}"
        " --L {wildcards.L} --scenario {wildcards.scenario}"
        " --label-noise {params.label_noise} --t-label {params.t_label}"
        " --seed {params.seed} --iterations {params.iterations}"
        " --batch-size {params.batch_size} --learning-rate {params.learning_rate}"
        " --padding {params.padding} --validation-fraction {params.validation_fraction}"
        " --threads {threads} {params.deterministic} > {log} 2>&1"
