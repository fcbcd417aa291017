# Data and code: the prepared datasets, and one code record per step module (the code every
# stage depends on, docs/architecture.md §3.5).
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule code:
    threads: 1
    input:
        step_inputs("code"),
    output:
        "results/.code/{module}.json",
    params:
        cmd=step_cmd("code"),
    log:
        "logs/code/{module}.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule prepare:
    threads: 1
    input:
        step_inputs("prepare"),
    output:
        "data/prepared/{dataset}.npz",
        "data/prepared/{dataset}.card.json",
        "data/prepared/{dataset}.provenance.json",
    params:
        cmd=step_cmd("prepare"),
        values=step_values("prepare"),
    log:
        "logs/prepare/{dataset}.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
