# Pruning baselines: each generation pruned from its previous network to the followed run's
# synapse count (then retrained and evaluated by the rules of evolve.smk).
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule prune:
    threads: 1
    wildcard_constraints:
        run=PRUNED,
    input:
        step_inputs("prune"),
    output:
        "results/{run}/offspring.pt",
        "results/{run}/prune.json",
        "results/{run}/prune.provenance.json",
    params:
        cmd=step_cmd("prune"),
        values=step_values("prune"),
    log:
        "logs/{run}/prune.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
