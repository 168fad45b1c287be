"""The engines that do a task: `offline` (no language model) and `model` (sub-agents on a
language model), the model client stack they build on, and the user's codebook.
"""
