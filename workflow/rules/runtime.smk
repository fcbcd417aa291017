# Exports and timings. The timing rules take every core (threads: workflow.cores), so no other
# job runs while they measure.
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule export:
    threads: 1
    input:
        step_inputs("export"),
    output:
        "results/{run}/model.onnx",
        "results/{run}/model.ts",
        "results/{run}/export.provenance.json",
    params:
        cmd=step_cmd("export"),
        values=step_values("export"),
    log:
        "logs/{run}/export.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule runtime:
    threads: workflow.cores
    input:
        step_inputs("runtime"),
    output:
        "reports/{exp}/runtime.md",
        report("reports/{exp}/runtime.csv", caption="../report/runtime.rst", category="Runtime",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "table"}),
        report("reports/{exp}/runtime.png", caption="../report/runtime.rst", category="Runtime",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "figure"}),
        "reports/{exp}/runtime.json",
        "reports/{exp}/runtime.provenance.json",
    params:
        cmd=step_cmd("runtime"),
        values=step_values("runtime"),
    log:
        "logs/{exp}/runtime.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


ruleorder: picks > runtime


rule picks:
    threads: workflow.cores  # a timing: no other job beside it
    input:
        step_inputs("picks"),
    output:
        "reports/picks/picks.md",
        report("reports/picks/picks.csv", caption="../report/picks.rst", category="Pick set",
               labels={"what": "selected networks"}),
        report("reports/picks/verdicts.csv", caption="../report/picks.rst", category="Pick set",
               labels={"what": "verdicts"}),
        report("reports/picks/pareto_synapses.png", caption="../report/picks.rst", category="Pick set",
               labels={"what": "accuracy vs synapses"}),
        report("reports/picks/pareto_filters.png", caption="../report/picks.rst", category="Pick set",
               labels={"what": "accuracy vs kernels and filters"}),
        report("reports/picks/pareto_latency.png", caption="../report/picks.rst", category="Pick set",
               labels={"what": "accuracy vs measured latency"}),
        "reports/picks/runtime.md",
        "reports/picks/runtime.csv",
        "reports/picks/runtime.json",
        "reports/picks/picks.provenance.json",
    params:
        cmd=step_cmd("picks"),
        values=step_values("picks"),
    log:
        "logs/picks.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


# The pick set by name, as `render_dvc.py --with pickset` renders it for DVC: the picks report
# and every chain of the pick, its ablations and its baselines it reads (snakemake -c2 pickset).
rule pickset:
    input:
        rules.picks.output,
