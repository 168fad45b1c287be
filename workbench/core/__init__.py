"""The foundation every layer stands on: errors, events, settings, tracing, the version.

Imports nothing else from `workbench`.
"""
