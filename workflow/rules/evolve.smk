# One rule per step of a generation (docs/architecture.md §3.1). Every rule runs the
# command the plan gives it, the same string as dvc.yaml's cmd, with its threads
# as torch's thread count (EVOSYNTH_THREADS, read by `evosynth --threads`); the
# runtime rule takes every core, so no other job runs while it measures.


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


rule paper_tables:
    input:
        step_inputs("paper_tables"),
    output:
        "reports/{exp}/paper_tables.md",
        report("reports/{exp}/paper_tables.csv", caption="../report/paper_tables.rst", category="Papers",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "table"}),
        "reports/{exp}/paper_tables.provenance.json",
    params:
        cmd=step_cmd("paper_tables"),
        values=step_values("paper_tables"),
    log:
        "logs/{exp}/paper_tables.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule report:
    threads: 1
    input:
        step_inputs("report"),
    output:
        report("reports/{exp}/generations.csv", caption="../report/generations.rst", category="Generations",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "table"}),
        "reports/{exp}/generations.md",
        report("reports/{exp}/generations.png", caption="../report/generations.rst", category="Generations",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "figure"}),
        report("reports/{exp}/summary.json", caption="../report/summary.rst", category="Generations",
               subcategory="{exp}", labels={"experiment": "{exp}", "what": "summary"}),
        "reports/{exp}/plots.csv",
        "reports/{exp}/report.provenance.json",
    params:
        cmd=step_cmd("report"),
        values=step_values("report"),
    log:
        "logs/{exp}/report.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule compare:
    threads: 1
    input:
        step_inputs("compare"),
    output:
        "reports/methods/comparisons.md",
        report("reports/methods/comparisons.csv", caption="../report/comparisons.rst", category="Claims",
               labels={"what": "table"}),
        report("reports/methods/comparisons.png", caption="../report/comparisons.rst", category="Claims",
               labels={"what": "figure"}),
        "reports/methods/compare.provenance.json",
    params:
        cmd=step_cmd("compare"),
        values=step_values("compare"),
    log:
        "logs/compare.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


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


rule features:
    threads: 1
    input:
        step_inputs("features"),
    output:
        report("reports/papers/features_tsne.png", caption="../report/features.rst", category="Papers",
               subcategory="StressedNets Figure 7, Table 4", labels={"what": "figure"}),
        "reports/papers/stressednets_table4.md",
        report("reports/papers/stressednets_table4.csv", caption="../report/features.rst", category="Papers",
               subcategory="StressedNets Figure 7, Table 4", labels={"what": "table"}),
        "reports/papers/features.provenance.json",
    params:
        cmd=step_cmd("features"),
        values=step_values("features"),
    log:
        "logs/features.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule papers:
    threads: 1
    input:
        step_inputs("papers"),
    output:
        papers_outputs(),
    params:
        cmd=step_cmd("papers"),
        values=step_values("papers"),
    log:
        "logs/papers.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule evidence:
    input:
        step_inputs("evidence"),
    output:
        "reports/evidence/evidence.md",
        report("reports/evidence/evidence.csv", caption="../report/evidence.rst", category="Evidence",
               labels={"what": "table"}),
        report("reports/evidence/evidence.png", caption="../report/evidence.rst", category="Evidence",
               labels={"what": "claims"}),
        report("reports/evidence/sweep.png", caption="../report/evidence.rst", category="Evidence",
               labels={"what": "sweep"}),
        "reports/evidence/evidence.provenance.json",
    params:
        cmd=step_cmd("evidence"),
        values=step_values("evidence"),
    log:
        "logs/evidence.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
