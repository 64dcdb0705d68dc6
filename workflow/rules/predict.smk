# The network of (L, scenario) classifies every bimodal overlap of size L: p(T) per instance.


rule predict:
    input:
        model="results/models/{scenario}/L{L}/model.keras",
        data=get_bimodal_data,
    output:
        predictions="results/predictions/{scenario}/L{L}.nc",
    log:
        "logs/predict/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/predict/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        batch_size=network_parameter("predict_batch_size"),
    shell:
        "sgpoison predict --model {input.model} --data {input.data}"
        " --out {output.predictions} --threads {threads}"
        " --batch-size {params.batch_size} > {log} 2>&1"
