# One generation (docs/architecture.md §3.1): stress-train the ancestor, encode the genome,
# synthesize the offspring, retrain it, evaluate it (and score it on another set of its task).
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule stress_train:
    threads: 1
    input:
        step_inputs("stress_train"),
    wildcard_constraints:
        run=ANCESTOR,
    output:
        "results/{run}/model.pt",
        "results/{run}/train_log.json",
        "results/{run}/stress_train.provenance.json",
    params:
        cmd=step_cmd("stress_train"),
        values=step_values("stress_train"),
    log:
        "logs/{run}/stress_train.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule encode:
    threads: 1
    input:
        step_inputs("encode"),
    wildcard_constraints:
        run=EVOLVED,
    output:
        "results/{run}/genome.pt",
        "results/{run}/encode.provenance.json",
    params:
        cmd=step_cmd("encode"),
        values=step_values("encode"),
    log:
        "logs/{run}/encode.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule synthesize:
    threads: 1
    input:
        step_inputs("synthesize"),
    wildcard_constraints:
        run=EVOLVED,
    output:
        "results/{run}/offspring.pt",
        "results/{run}/synthesis.json",
        "results/{run}/synthesize.provenance.json",
    params:
        cmd=step_cmd("synthesize"),
        values=step_values("synthesize"),
    log:
        "logs/{run}/synthesize.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule retrain:
    threads: 1
    input:
        step_inputs("retrain"),
    wildcard_constraints:
        run=OFFSPRING,
    output:
        "results/{run}/model.pt",
        "results/{run}/train_log.json",
        "results/{run}/retrain.provenance.json",
    params:
        cmd=step_cmd("retrain"),
        values=step_values("retrain"),
    log:
        "logs/{run}/retrain.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule evaluate:
    threads: 1
    input:
        step_inputs("evaluate"),
    output:
        "results/{run}/metrics.json",
        "results/{run}/evaluate.provenance.json",
    params:
        cmd=step_cmd("evaluate"),
        values=step_values("evaluate"),
    log:
        "logs/{run}/evaluate.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule transfer:
    threads: 1
    input:
        step_inputs("transfer"),
    output:
        "reports/{scored}/metrics.json",
        "reports/{scored}/evaluate.provenance.json",
    params:
        cmd=step_cmd("transfer"),
        values=step_values("transfer"),
    log:
        "logs/{scored}/transfer.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
