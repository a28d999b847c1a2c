"""Command-line interface: the `flowengine` console script."""
