# Finite-size scaling: per scenario, the crossing of p(T, L) over all L (paper Fig. 1); and the
# conventional baseline from the bimodal data (Binder ratio and xi_L / L crossings).


rule analyze:
    input:
        predictions=get_prediction_files,
    output:
        estimates="results/analysis/{scenario}/estimates.json",
        table="results/analysis/{scenario}/estimates.nc",
        figure=report(
            "results/analysis/{scenario}/fig1.png",
            caption="../report/fig1.rst",
            category="Network p(T, L)",
            subcategory="{scenario}",
            labels={
                "scenario": "{scenario}",
                "figure": "p(T, L) and its scaling collapse",
            },
        ),
        figure_pdf="results/analysis/{scenario}/fig1.pdf",
    log:
        "logs/analyze/{scenario}.log",
    benchmark:
        "results/benchmarks/analyze/{scenario}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out_dir=subpath(output.estimates, parent=True),
        n_bootstrap=analysis_parameter("n_bootstrap"),
        seed=analysis_parameter("seed"),
    shell:
        "sgpoison analyze --predictions {input.predictions} --out {params.out_dir}"
        " --n-bootstrap {params.n_bootstrap} --seed {params.seed} > {log} 2>&1"


rule baseline:
    input:
        data=get_bimodal_files,
    output:
        estimates="results/baseline/estimates.json",
        table="results/baseline/estimates.nc",
        figure=report(
            "results/baseline/baseline.png",
            caption="../report/baseline.rst",
            category="Conventional baseline",
            labels={"figure": "Binder ratio and xi_L / L"},
        ),
        figure_pdf="results/baseline/baseline.pdf",
    log:
        "logs/baseline/baseline.log",
    benchmark:
        "results/benchmarks/baseline/baseline.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        out_dir=subpath(output.estimates, parent=True),
        n_bootstrap=analysis_parameter("n_bootstrap"),
        seed=analysis_parameter("seed"),
    shell:
        "sgpoison baseline --data {input.data} --out {params.out_dir}"
        " --n-bootstrap {params.n_bootstrap} --seed {params.seed} > {log} 2>&1"
