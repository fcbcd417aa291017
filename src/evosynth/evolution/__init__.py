"""The papers' equations: encoding (EvoNet eq. 1, cluster paper eq. 3-5), environment (F, budget), synthesis (EvoNet eq. 2-4), mating (sexual paper eq. 3-5), stress (StressedNets eq. 6-8)."""
