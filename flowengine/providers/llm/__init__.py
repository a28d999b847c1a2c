"""Language-model providers: the base class, the registry, OpenAI-compatible and the offline rule engine."""
