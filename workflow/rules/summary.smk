# One table and one figure comparing T_c (and nu) of every scenario with the conventional analysis.


rule summary:
    input:
        scenarios=get_scenario_estimates,
        conventional=CONVENTIONAL_ESTIMATES,
        audits=get_all_audit_reports,
    output:
        table=report(
            SUMMARY_TABLE,
            caption="../report/results.rst",
            category="Summary",
            labels={"figure": "table of estimates"},
        ),
        dataset=SUMMARY_DATASET,
        figure=report(
            SUMMARY_FIGURE,
            caption="../report/tc_summary.rst",
            category="Summary",
            labels={"figure": "T_c by scenario"},
        ),
        figure_pdf=SUMMARY_FIGURE_PDF,
    log:
        "logs/summary/summary.log",
    benchmark:
        "results/benchmarks/summary/summary.tsv"
    conda:
        "../../envs/analysis.yaml"
    params:
        scenarios=get_summary_scenario_arguments,
        audits=get_summary_audit_arguments,
        out_dir=subpath(output.table, parent=True),
        settings=get_settings("summary"),
        code=get_code("summary"),
    shell:
        "sgpoison summary {params.scenarios} {params.audits} --conventional {input.conventional}"
        " --out {params.out_dir} > {log} 2>&1"
