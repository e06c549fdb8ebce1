"""Shared by the zero-shot tests: play one episode with an agent and keep the trace."""
from gym_langrearrange.skills import NUM_SKILLS


def run_episode(agent, env, seed=0):
    """(action, info) per step of one episode; every action must be a valid skill id."""
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info)
    trace, done = [], False
    while not done:
        action = agent.act(obs, info)
        assert isinstance(action, int) and 0 <= action < NUM_SKILLS
        obs, _, terminated, truncated, info = env.step(action)
        trace.append((action, info))
        done = terminated or truncated
    return trace
