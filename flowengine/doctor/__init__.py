"""`flowengine doctor`: checks a deployment from its config (ARI, the app, RTP, speech HTTP, store, keys)."""
