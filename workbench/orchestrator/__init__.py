"""Plans and their execution: a plan's stages (`plans`), running them with gates, review,
critic and replans (`pipeline`), and one run from request to manifest (`orchestrate`).
"""
