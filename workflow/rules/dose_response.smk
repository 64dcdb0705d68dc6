# Dose-response scans (config scans, sgpoison.config.expand_scans): per scan axis one job
# tabulating and plotting every estimator's T_c, the verdict, the CNN - null difference, the
# validation accuracy and the audit against the dose, and stating the dose at which the transition
# signal is lost. The scenarios of the doses are ordinary scenarios (their own train, analyze,
# audit jobs); this rule only collects them, so adding a dose reruns that dose's jobs and this one.

if get_scan_axes():

    rule dose_response:
        input:
            # one per dose, in the order of the doses (get_dose_values)
            estimates=get_dose_estimates,
            audits=get_dose_audits,
            conventional=CONVENTIONAL_ESTIMATES,
        output:
            table=report(
                DOSE_RESPONSE_TABLE,
                caption="../report/dose_response.rst",
                category="Dose response",
                subcategory="{axis}",
                labels={"axis": "{axis}", "figure": "table"},
            ),
            dataset=DOSE_RESPONSE_DATASET,
            figure=report(
                DOSE_RESPONSE_FIGURE,
                caption="../report/dose_response.rst",
                category="Dose response",
                subcategory="{axis}",
                labels={"axis": "{axis}", "figure": "estimates against the dose"},
            ),
            figure_pdf=DOSE_RESPONSE_FIGURE_PDF,
            signal_loss=DOSE_RESPONSE_SIGNAL_LOSS,
        log:
            "logs/dose_response/{axis}.log",
        benchmark:
            "results/benchmarks/dose_response/{axis}.tsv"
        conda:
            "../../envs/analysis.yaml"
        params:
            doses=get_dose_values,
            out_dir=subpath(output.table, parent=True),
            settings=get_settings("dose_response"),
            code=get_code("dose_response"),
        shell:
            "sgpoison dose-response --axis {wildcards.axis} --doses {params.doses}"
            " --estimates {input.estimates} --audits {input.audits}"
            " --conventional {input.conventional} --out {params.out_dir} > {log} 2>&1"
