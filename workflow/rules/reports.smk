# Reports: each run's generation table, the claims against their controls, the papers' tables
# and figures, the evidence set's verdicts.
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


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


rule paper_tables:
    threads: 1
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
