# The networks of (L, scenario): K = network.n_networks ensemble members cnn{k}, one job each,
# trained on the Gaussian overlaps at the scenario's sweep fraction with the scenario's label
# noise. Network k of size L takes its seeds from (network.seed, L, k), the same in every
# scenario. The null models (config null_models) are fitted on network 0's training set, all of
# one (L, scenario) in one job. Scenario and network settings enter as params, so a changed
# scenario reruns its own training (and what depends on it) only; raising K adds jobs only.


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
        "logs/train/{scenario}/L{L}/cnn{k}.log",
    benchmark:
        "results/benchmarks/train/{scenario}/L{L}/cnn{k}.tsv"
    conda:
        get_network_conda_env
    params:
        label_noise=get_value("labels.label_noise"),
        label_noise_mode=get_value("labels.label_noise_mode"),
        t_label=get_value("labels.t_label"),
        validation_fraction=get_value("network.validation_fraction"),
        seed=get_value("network.seed"),
        options=get_network_options,
        gpu=get_gpu_request,
        settings=get_settings("train"),
        code=get_code("train"),
    shell:
        "sgpoison train --data {input.data} --out {output.model}"
        " --history {output.history} --metadata {output.metadata}"
        " --L {wildcards.L} --scenario {wildcards.scenario} --network-index {wildcards.k}"
        " --label-noise {params.label_noise} --label-noise-mode {params.label_noise_mode}"
        " --t-label {params.t_label}"
        " --seed {params.seed} --validation-fraction {params.validation_fraction}"
        " {params.options} --threads {threads} > {log} 2>&1"


if get_null_observables():

    rule train_null:
        input:
            data=get_training_data,
            audit=AUDIT_REPORT,
        output:
            models=expand(
                NULL_MODEL, observables=get_null_observables(), allow_missing=True
            ),
        log:
            "logs/train_null/{scenario}/L{L}.log",
        benchmark:
            "results/benchmarks/train_null/{scenario}/L{L}.tsv"
        conda:
            "../../envs/network.yaml"
        params:
            observables=get_null_observables(),
            label_noise=get_value("labels.label_noise"),
            label_noise_mode=get_value("labels.label_noise_mode"),
            t_label=get_value("labels.t_label"),
            validation_fraction=get_value("network.validation_fraction"),
            seed=get_value("network.seed"),
            options=get_null_options,
            settings=get_settings("train_null"),
            code=get_code("train_null"),
        shell:
            "sgpoison train-null --data {input.data} --observables {params.observables}"
            " --out {output.models} --L {wildcards.L} --scenario {wildcards.scenario}"
            " --label-noise {params.label_noise} --label-noise-mode {params.label_noise_mode}"
            " --t-label {params.t_label}"
            " --seed {params.seed} --validation-fraction {params.validation_fraction}"
            " {params.options} > {log} 2>&1"
