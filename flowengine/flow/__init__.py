"""Flow documents, variables and the activeflow runner."""
