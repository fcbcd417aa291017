# The trade-off curves (named target: `snakemake -c2 curves`; docs/method.md §10.6): the from-scratch
# controls of curves.scratch, one latency timing per chain, and the curves report over every chain of
# curves.evolved, curves.search.candidates and curves.baselines.
# Every rule runs the command the plan gives it (params.cmd: the same string as dvc.yaml's cmd,
# `evosynth <step> …`), with its threads as torch's thread count (EVOSYNTH_THREADS).


rule scratch:
    threads: 1
    input:
        step_inputs("scratch"),
    output:
        "results/scratch/{scratched}/model.pt",
        "results/scratch/{scratched}/metrics.json",
        "results/scratch/{scratched}/train_log.json",
        "results/scratch/{scratched}/scratch.provenance.json",
    params:
        cmd=step_cmd("scratch"),
        values=step_values("scratch"),
    log:
        "logs/scratch/{scratched}.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule latency:
    threads: workflow.cores  # a timing: no other job beside it
    input:
        step_inputs("latency"),
    output:
        "results/latency/{timed}/latency.json",
        "results/latency/{timed}/latency.provenance.json",
    params:
        cmd=step_cmd("latency"),
        values=step_values("latency"),
    log:
        "logs/latency/{timed}.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"


rule curves:
    threads: 1
    input:
        step_inputs("curves"),
    output:
        "reports/curves/curves.md",
        report("reports/curves/curves.csv", caption="../report/curves.rst", category="Curves",
               labels={"what": "operating points"}),
        report("reports/curves/curves_synapses.png", caption="../report/curves.rst", category="Curves",
               labels={"what": "accuracy vs synaptic efficiency"}),
        report("reports/curves/curves_macs.png", caption="../report/curves.rst", category="Curves",
               labels={"what": "accuracy vs MAC reduction"}),
        report("reports/curves/curves_latency.png", caption="../report/curves.rst", category="Curves",
               labels={"what": "accuracy vs measured batch-1 speed-up"}),
        report("reports/curves/search.csv", caption="../report/curves.rst", category="Curves",
               labels={"what": "the search's log"}),
        report("reports/curves/curves_search.png", caption="../report/curves.rst", category="Curves",
               labels={"what": "validation curves of the configurations tried"}),
        "reports/curves/curves.provenance.json",
    params:
        cmd=step_cmd("curves"),
        values=step_values("curves"),
    log:
        "logs/curves.log",
    conda:
        "../envs/evosynth.yaml"
    shell:
        "EVOSYNTH_THREADS={threads} {params.cmd} 2> {log}"
