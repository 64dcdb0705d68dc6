# Finite-size scaling: per scenario, every classifier's p(T, L) over all L -- the network ensemble
# (paper Fig. 1) and the null models (nulls figure) -- with one bootstrap; and the conventional
# analysis of the bimodal data (Binder ratio and xi_L / L crossings).


rule analyze:
    input:
        predictions=get_prediction_files,
    output:
        estimates=ANALYSIS_ESTIMATES,
        table=ANALYSIS_TABLE,
        figure=report(
            ANALYSIS_FIGURE,
            caption="../report/fig1.rst",
            category="Network p(T, L)",
            subcategory="{scenario}",
            labels={
                "scenario": "{scenario}",
                "figure": "p(T, L) and its scaling collapse",
            },
        ),
        figure_pdf=ANALYSIS_FIGURE_PDF,
        nulls=report(
            ANALYSIS_NULLS_FIGURE,
            caption="../report/nulls.rst",
            category="Network p(T, L)",
            subcategory="{scenario}",
            labels={
                "scenario": "{scenario}",
                "figure": "network and null models",
            },
        ),
        nulls_pdf=ANALYSIS_NULLS_FIGURE_PDF,
    log:
        "logs/analyze/{scenario}.log",
    benchmark:
        "results/benchmarks/analyze/{scenario}.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=subpath(output.estimates, parent=True),
        n_bootstrap=get_value("analysis.n_bootstrap"),
        seed=get_value("analysis.seed"),
        observable=get_value("analysis.observable"),
        settings=get_settings("analyze"),
        code=get_code("analyze"),
    shell:
        "sgpoison analyze --predictions {input.predictions} --out {params.out_dir}"
        " --n-bootstrap {params.n_bootstrap} --seed {params.seed}"
        " --observable {params.observable} > {log} 2>&1"


rule conventional:
    input:
        data=get_bimodal_files,
    output:
        estimates=CONVENTIONAL_ESTIMATES,
        table=CONVENTIONAL_TABLE,
        figure=report(
            CONVENTIONAL_FIGURE,
            caption="../report/conventional.rst",
            category="Conventional analysis",
            labels={"figure": "Binder ratio and xi_L / L"},
        ),
        figure_pdf=CONVENTIONAL_FIGURE_PDF,
    log:
        "logs/conventional/conventional.log",
    benchmark:
        "results/benchmarks/conventional/conventional.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        out_dir=subpath(output.estimates, parent=True),
        n_bootstrap=get_value("analysis.n_bootstrap"),
        seed=get_value("analysis.seed"),
        settings=get_settings("conventional"),
        code=get_code("conventional"),
    shell:
        "sgpoison conventional --data {input.data} --out {params.out_dir}"
        " --n-bootstrap {params.n_bootstrap} --seed {params.seed} > {log} 2>&1"
