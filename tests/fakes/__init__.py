"""Fakes at the network edges: local servers that speak a provider's wire protocol."""
