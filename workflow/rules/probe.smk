# The capacity probe (named target: `snakemake -c2 probe`; docs/method.md §13.7): dense LeNet5s of
# each width in probe.widths, one training per seed, and the report against the reference's ancestor.
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule probe_train:
    threads: 1
    input:
        step_inputs("probe_train"),
    output:
        "results/probe/{net}/model.pt",
        "results/probe/{net}/metrics.json",
        "results/probe/{net}/train_log.json",
        "results/probe/{net}/probe_train.provenance.json",
    params:
        cmd=step_cmd("probe_train"),
        values=step_values("probe_train"),
    log:
        "logs/probe/{net}.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule probe:
    threads: 1
    input:
        step_inputs("probe"),
    output:
        "reports/probe/probe.md",
        report("reports/probe/probe.csv", caption="../report/probe.rst", category="Probe",
               labels={"what": "table"}),
        report("reports/probe/probe.png", caption="../report/probe.rst", category="Probe",
               labels={"what": "figure"}),
        "reports/probe/probe.provenance.json",
    params:
        cmd=step_cmd("probe"),
        values=step_values("probe"),
    log:
        "logs/probe.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
