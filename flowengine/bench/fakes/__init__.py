"""Local stand-ins for the cloud speech and LLM providers, speaking each one's documented wire protocol on
loopback with injectable latency and faults: the provider tests and `bench conversation --providers` use them."""
