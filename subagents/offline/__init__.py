"""The offline engine: deterministic implementations of the analyst sub-agents.

No language model is involved. Analysts extract verbatim sentences relevant to the
question; synthesis clusters them into themes with prevalence counts. Everything
here is reproducible: the same corpus and question give the same findings.
"""
