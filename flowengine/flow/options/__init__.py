"""Typed option models of every action type, one module per action group."""
