# The network of (L, scenario) classifies every bimodal overlap of size L: p(T) per instance.


rule predict:
    input:
        model=MODEL,
        data=get_bimodal_data,
    output:
        predictions=PREDICTION,
    log:
        "logs/predict/{scenario}/L{L}.log",
    benchmark:
        "results/benchmarks/predict/{scenario}/L{L}.tsv"
    conda:
        "../../envs/network.yaml"
    params:
        batch_size=get_value("network.predict_batch_size"),
        settings=get_settings("predict"),
        code=get_code("predict"),
    shell:
        "sgpoison predict --model {input.model} --data {input.data}"
        " --out {output.predictions} --threads {threads}"
        " --batch-size {params.batch_size} > {log} 2>&1"
