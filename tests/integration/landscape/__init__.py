"""Integration tests of the local landscape (Kubernetes API double and KIM simulator)."""
