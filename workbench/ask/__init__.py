"""Questions about a corpus answered with quotes: the offline answerer (`answer`) and the
model's planner/answerer (`model`).
"""
