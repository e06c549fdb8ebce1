"""Torch building blocks of the learned agents: visual encoders, LLM and backbone loading, the
frozen-output cache, observation helpers. Nothing here knows an algorithm or a task."""
