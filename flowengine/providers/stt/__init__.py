"""Speech-to-text providers: the base class, the registry, the offline recogniser."""
