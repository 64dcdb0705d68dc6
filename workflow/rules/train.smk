# One convolutional network per (L, scenario), trained on Gaussian overlaps at the scenario's
# sweep fraction with the scenario's label noise. Scenario settings enter as params, so a
# changed scenario reruns its own training (and what depends on it) only.


rule train:
    input:
        data=get_training_data,
        # trained only after its training set has been audited (and, with audit.policy
        # refuse, passed)
        audit="results/audit/{scenario}/L{L}.json",
    output:
        model="results/models/{scenario}/L{L}/model.keras",
        history="results/models/{scenario}/L{L}/history.csv",
        metadata="results/models/{scenario}/L{L}/model.json",
    log:
        "logs/train/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/train/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        label_noise=scenario_parameter("label_noise"),
        t_label=network_parameter("t_label"),
        iterations=network_parameter("iterations"),
        batch_size=network_parameter("batch_size"),
        learning_rate=network_parameter("learning_rate"),
        padding=network_parameter("padding"),
        validation_fraction=network_parameter("validation_fraction"),
        seed=network_parameter("seed"),
        deterministic=get_deterministic_flag,
    shell:
        "sgpoison train --data {input.data} --out {output.model}"
        " --history {output.history} --metadata {output.metadata}"
        " --L {wildcards.L} --scenario {wildcards.scenario}"
        " --label-noise {params.label_noise} --t-label {params.t_label}"
        " --seed {params.seed} --iterations {params.iterations}"
        " --batch-size {params.batch_size} --learning-rate {params.learning_rate}"
        " --padding {params.padding} --validation-fraction {params.validation_fraction}"
        " --threads {threads} {params.deterministic} > {log} 2>&1"
