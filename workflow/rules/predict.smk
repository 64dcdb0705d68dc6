# Every classifier of (L, scenario) classifies every bimodal overlap of size L: p(T) per instance,
# one prediction file per network cnn{k} and per null model.


rule predict:
    input:
        model=MODEL,
        data=get_bimodal_data,
    output:
        predictions=PREDICTION,
    log:
        "logs/predict/{scenario}/L{L}/cnn{k}.log",
    benchmark:
        "results/benchmarks/predict/{scenario}/L{L}/cnn{k}.tsv"
    conda:
        get_network_conda_env
    params:
        batch_size=get_value("network.predict_batch_size"),
        gpu=get_gpu_request,
        settings=get_settings("predict"),
        code=get_code("predict"),
    shell:
        "sgpoison predict --model {input.model} --data {input.data}"
        " --out {output.predictions} --threads {threads}"
        " --batch-size {params.batch_size} > {log} 2>&1"


if get_null_observables():

    rule predict_null:
        input:
            models=get_null_model_files,
            data=get_bimodal_data,
        output:
            predictions=expand(
                NULL_PREDICTION, observables=get_null_observables(), allow_missing=True
            ),
        log:
            "logs/predict_null/{scenario}/L{L}.log",
        benchmark:
            "results/benchmarks/predict_null/{scenario}/L{L}.tsv"
        conda:
            "../../envs/network.yaml"
        params:
            settings=get_settings("predict_null"),
            code=get_code("predict_null"),
        shell:
            "sgpoison predict-null --model {input.models} --data {input.data}"
            " --out {output.predictions} > {log} 2>&1"
