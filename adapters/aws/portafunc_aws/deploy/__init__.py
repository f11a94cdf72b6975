"""The manifests ``portafunc package --target aws`` writes (the SAM template)."""
