"""A run's state and its execution: the run folder (`store`), the finished `Run`, the
corpus it reads, the fan-out of tasks (asyncio or Ray), budgets, steering (`control`),
the review queue and the background `RunHandle`.
"""
