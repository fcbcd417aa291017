# One rule per step of a generation (DESIGN.md §2b). Every rule runs the
# command the plan gives it, the same string as dvc.yaml's cmd.


rule prepare:
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
        "{params.cmd} 2> {log}"


rule stress_train:
    input:
        step_inputs("stress_train"),
    output:
        "results/{exp}/gen0/model.pt",
        "results/{exp}/gen0/train_log.json",
        "results/{exp}/gen0/stress_train.provenance.json",
    params:
        cmd=step_cmd("stress_train"),
        values=step_values("stress_train"),
    log:
        "logs/{exp}/gen0/stress_train.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"


rule encode:
    input:
        step_inputs("encode"),
    output:
        "results/{exp}/gen{child}/genome.pt",
        "results/{exp}/gen{child}/encode.provenance.json",
    params:
        cmd=step_cmd("encode"),
        values=step_values("encode"),
    log:
        "logs/{exp}/gen{child}/encode.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"


rule synthesize:
    input:
        step_inputs("synthesize"),
    output:
        "results/{exp}/gen{child}/offspring.pt",
        "results/{exp}/gen{child}/synthesis.json",
        "results/{exp}/gen{child}/synthesize.provenance.json",
    params:
        cmd=step_cmd("synthesize"),
        values=step_values("synthesize"),
    log:
        "logs/{exp}/gen{child}/synthesize.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"


rule retrain:
    input:
        step_inputs("retrain"),
    output:
        "results/{exp}/gen{child}/model.pt",
        "results/{exp}/gen{child}/train_log.json",
        "results/{exp}/gen{child}/retrain.provenance.json",
    params:
        cmd=step_cmd("retrain"),
        values=step_values("retrain"),
    log:
        "logs/{exp}/gen{child}/retrain.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"


rule evaluate:
    input:
        step_inputs("evaluate"),
    output:
        "results/{exp}/gen{g}/metrics.json",
        "results/{exp}/gen{g}/evaluate.provenance.json",
    params:
        cmd=step_cmd("evaluate"),
        values=step_values("evaluate"),
    log:
        "logs/{exp}/gen{g}/evaluate.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"


rule report:
    input:
        step_inputs("report"),
    output:
        "reports/{exp}/generations.csv",
        "reports/{exp}/generations.md",
        "reports/{exp}/generations.png",
        "reports/{exp}/report.provenance.json",
    params:
        cmd=step_cmd("report"),
        values=step_values("report"),
    log:
        "logs/{exp}/report.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "{params.cmd} 2> {log}"
