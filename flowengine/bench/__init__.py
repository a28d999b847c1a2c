"""Benchmarks, the demo and the scripted caller: they drive the engine from outside, as a user would."""
