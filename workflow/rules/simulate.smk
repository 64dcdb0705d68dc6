# Parallel-tempering Monte Carlo: one job per batch of disorder instances, merged per
# (disorder, L, sweep fraction). Nothing here depends on the scenarios' network settings.


rule simulate:
    output:
        simulation="results/simulations/batches/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.nc",
    log:
        "logs/simulate/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.log",
    benchmark:
        "results/benchmarks/simulate/{disorder}/L{L}_f{sweep_fraction}/batch{batch}.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=get_simulate_mem_mb,
        runtime=get_simulate_runtime,
    params:
        instances=simulation_parameter("instances"),
        n_sweeps=simulation_parameter("n_sweeps"),
        t_min=simulation_parameter("t_min"),
        t_max=simulation_parameter("t_max"),
        n_temps=simulation_parameter("n_temps"),
        n_snapshots=simulation_parameter("n_snapshots"),
        ladder=simulation_parameter("ladder"),
        measure_interval=simulation_parameter("measure_interval"),
        swap_interval=simulation_parameter("swap_interval"),
        seed=simulation_parameter("seed"),
        checkpoint=get_checkpoint,
    shell:
        "sgpoison simulate --L {wildcards.L} --disorder {wildcards.disorder}"
        " --instances {params.instances} --n-sweeps {params.n_sweeps}"
        " --sweep-fraction {wildcards.sweep_fraction}"
        " --t-min {params.t_min} --t-max {params.t_max} --n-temps {params.n_temps}"
        " --ladder {params.ladder} --n-snapshots {params.n_snapshots}"
        " --measure-interval {params.measure_interval} --swap-interval {params.swap_interval}"
        " --seed {params.seed} --threads {threads} --checkpoint {params.checkpoint}"
        " --out {output.simulation} > {log} 2>&1"


rule merge:
    input:
        batches=get_batch_files,
    output:
        simulation="results/simulations/{disorder}/L{L}_f{sweep_fraction}.nc",
    log:
        "logs/merge/{disorder}/L{L}_f{sweep_fraction}.log",
    benchmark:
        "results/benchmarks/merge/{disorder}/L{L}_f{sweep_fraction}.tsv"
    conda:
        "../../envs/simulation.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "sgpoison merge --inputs {input.batches} --out {output.simulation} > {log} 2>&1"
