# Parallel-tempering Monte Carlo: one job per batch of disorder instances, merged per
# (disorder, L, sweep fraction). Nothing here depends on the scenarios' network settings.


rule simulate:
    output:
        simulation=SIMULATION_BATCH,
    log:
        "logs/simulate/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.log",
    benchmark:
        "results/benchmarks/simulate/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.tsv"
    conda:
        "../../envs/simulation.yaml"
    resources:
        mem_mb=get_simulate_mem_mb,
        runtime=get_simulate_runtime,
    params:
        instances=get_value("simulate.instances"),
        n_sweeps=get_value("simulate.n_sweeps"),
        t_min=get_value("simulate.t_min"),
        t_max=get_value("simulate.t_max"),
        n_temps=get_value("simulate.n_temps"),
        n_snapshots=get_value("simulate.n_snapshots"),
        ladder=get_value("simulate.ladder"),
        measure_interval=get_value("simulate.measure_interval"),
        swap_interval=get_value("simulate.swap_interval"),
        seed=get_value("simulate.seed"),
        checkpoint=get_checkpoint,
        settings=get_settings("simulate"),
        code=get_code("simulate"),
    shell:
        "sgpoison simulate --L {wildcards.L} --disorder {wildcards.disorder}"
        " --instances {params.instances} --n-sweeps {params.n_sweeps}"
        " --sweep-fraction {wildcards.sweep_fraction}"
        " --t-min {params.t_min} --t-max {params.t_max} --n-temps {params.n_temps}"
        " --ladder {params.ladder} --n-snapshots {params.n_snapshots}"
        " --measure-interval {params.measure_interval} --swap-interval {params.swap_interval}"
        " --seed {params.seed} --threads {threads} --checkpoint {params.checkpoint}"
        " --out {output.simulation} > {log} 2>&1"


if shared_sweep_fractions(config):

    ruleorder: simulate_shared > simulate

    # simulation.share_sweep_fractions: the Gaussian run of the largest sweep fraction also
    # writes the files of the smaller ones (docs/workflow.md, "Shared simulations")
    rule simulate_shared:
        output:
            simulation=get_shared_batch(gaussian_sweep_fractions(config)[0]),
            shared=[get_shared_batch(f) for f in shared_sweep_fractions(config)],
        log:
            "logs/simulate/gaussian/L{L}_shared/batch{batch}.log",
        benchmark:
            "results/benchmarks/simulate/gaussian/L{L}_shared/batch{batch}.tsv"
        conda:
            "../../envs/simulation.yaml"
        resources:
            mem_mb=get_simulate_shared_mem_mb,
            runtime=get_simulate_shared_runtime,
        params:
            sweep_fraction=format_fraction(gaussian_sweep_fractions(config)[0]),
            shared=get_shared_options,
            instances=of_longest_run(get_value("simulate.instances")),
            n_sweeps=of_longest_run(get_value("simulate.n_sweeps")),
            t_min=of_longest_run(get_value("simulate.t_min")),
            t_max=of_longest_run(get_value("simulate.t_max")),
            n_temps=of_longest_run(get_value("simulate.n_temps")),
            n_snapshots=of_longest_run(get_value("simulate.n_snapshots")),
            ladder=of_longest_run(get_value("simulate.ladder")),
            measure_interval=of_longest_run(get_value("simulate.measure_interval")),
            swap_interval=of_longest_run(get_value("simulate.swap_interval")),
            seed=of_longest_run(get_value("simulate.seed")),
            checkpoint=get_shared_checkpoint,
            settings=get_settings("simulate_shared"),
            code=get_code("simulate_shared"),
        shell:
            "sgpoison simulate --L {wildcards.L} --disorder gaussian"
            " --instances {params.instances} --n-sweeps {params.n_sweeps}"
            " --sweep-fraction {params.sweep_fraction}"
            " --t-min {params.t_min} --t-max {params.t_max} --n-temps {params.n_temps}"
            " --ladder {params.ladder} --n-snapshots {params.n_snapshots}"
            " --measure-interval {params.measure_interval} --swap-interval {params.swap_interval}"
            " --seed {params.seed} --threads {threads} --checkpoint {params.checkpoint}"
            " --out {output.simulation} {params.shared} > {log} 2>&1"


rule merge:
    input:
        batches=get_batch_files,
    output:
        simulation=SIMULATION,
    log:
        "logs/merge/{disorder}/L{L}_f{sweep_fraction}.log",
    benchmark:
        "results/benchmarks/merge/{disorder}/L{L}_f{sweep_fraction}.tsv"
    conda:
        "../../envs/simulation.yaml"
    params:
        settings=get_settings("merge"),
        code=get_code("merge"),
    shell:
        "sgpoison merge --inputs {input.batches} --out {output.simulation} > {log} 2>&1"
