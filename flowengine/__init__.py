"""flowengine: IVR/flow engine and AI voice-agent runtime for Asterisk."""

__version__ = "0.1.0"
