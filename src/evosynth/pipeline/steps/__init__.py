"""The workflow's steps, one module each: read inputs, call the pure cores, write artifacts.

Each module has a ``run_<step>`` function (params and paths in, artifacts out,
written atomically with a ``<step>.provenance.json`` beside them) and a thin
``main(params, args)`` that the CLI (:mod:`evosynth.pipeline.cli`) calls with
its parsed arguments and that prints one summary line. The module a stage runs
is named in :data:`evosynth.pipeline.plan.STEP_MODULES`; the stage's code
dependencies are that module's imports (:mod:`evosynth.pipeline.codedeps`).
"""
