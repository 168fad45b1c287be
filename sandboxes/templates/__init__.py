"""Sandbox image definitions (E2B template)."""
