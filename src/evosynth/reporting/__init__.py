"""Reports: generation tables, comparisons, the papers' tables and figures (table, stressednets, cluster, selection, papers)."""
