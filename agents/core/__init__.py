"""What every agent shares: the Agent interface, bound agents, and loading by name."""
from agents.core.agent import Agent, InfrastructureError, OracleAgent, RandomAgent, SB3Agent
from agents.core.registry import AGENTS, load_agent, register_agent

__all__ = ["Agent", "InfrastructureError", "OracleAgent", "RandomAgent", "SB3Agent", "AGENTS", "load_agent",
           "register_agent"]
