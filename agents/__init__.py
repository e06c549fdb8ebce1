"""The agent zoo for gym_langrearrange: baselines, zero-shot LLM planners, and learned policies.

Every agent implements :class:`agents.core.Agent`; ``python -m agents.evaluate`` runs any
of them on the benchmark's datasets.
"""
