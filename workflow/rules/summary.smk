# One table and one figure comparing T_c (and nu) of every scenario with the baseline.


rule summary:
    input:
        scenarios=get_scenario_estimates,
        baseline="results/baseline/estimates.json",
        audits=get_all_audit_reports,
    output:
        table=report(
            "results/summary/results.csv",
            caption="../report/results.rst",
            category="Summary",
            labels={"figure": "table of estimates"},
        ),
        dataset="results/summary/results.nc",
        figure=report(
            "results/summary/tc_summary.png",
            caption="../report/tc_summary.rst",
            category="Summary",
            labels={"figure": "T_c by scenario"},
        ),
        figure_pdf="results/summary/tc_summary.pdf",
    log:
        "logs/summary/summary.log",
    benchmark:
        "results/benchmarks/summary/summary.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        scenarios=get_summary_scenario_arguments,
        audits=get_summary_audit_arguments,
        out_dir=subpath(output.table, parent=True),
    shell:
        "sgpoison summary {params.scenarios} {params.audits} --baseline {input.baseline}"
        " --out {params.out_dir} > {log} 2>&1"
