"""The audio engine: RTP, transport, jitter buffer, codecs, resampling, VAD, pacer, sessions."""
