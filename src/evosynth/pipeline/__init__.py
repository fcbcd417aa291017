"""The workflow: params and schema, layout, plan, code dependencies, the evosynth command and its steps, the warm server."""
