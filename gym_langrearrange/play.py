"""Play an episode by hand: type a skill, see what the robot sees, the map, the feedback and the reward.

    python -m gym_langrearrange play [--split rephrasing] [--episode 3] [--png view.png]

At the prompt: a skill by name (``pick(apple)``, Tab completes the names) or by number; ``?`` lists the
skills valid now; ``n`` moves to the next episode; ``q`` quits. The view opens in a window where a
display exists, and is otherwise written to a PNG file after every step (``--png``).
"""
from __future__ import annotations

from typing import Callable, TextIO

import gymnasium as gym
import numpy as np

from gym_langrearrange.render.viewer import Viewer, compose_view
from gym_langrearrange.skills import NUM_SKILLS, SKILL_CATALOG

SKILL_NAMES = tuple(SKILL_CATALOG.text(i) for i in range(NUM_SKILLS))


def parse_skill(text: str) -> int:
    """A skill id from its name or number; ValueError naming what was typed and what is allowed."""
    text = text.strip()
    if text.isdigit() and int(text) < NUM_SKILLS:
        return int(text)
    if text in SKILL_NAMES:
        return SKILL_NAMES.index(text)
    verb = text.split("(")[0].split()[0] if text.split("(")[0].split() else ""
    near = [n for n in SKILL_NAMES if verb and n.startswith(verb)][:3]
    raise ValueError(f"unknown skill {text!r}: type a skill name such as {', '.join(near or SKILL_NAMES[:3])} "
                     f"or a number 0..{NUM_SKILLS - 1} ('?' lists the valid ones)")


def completer(text: str, state: int) -> str | None:
    """readline completion over the skill names."""
    matches = [n for n in SKILL_NAMES if n.startswith(text)]
    return matches[state] if state < len(matches) else None


def play(split: str = "train", episode: int = 0, png: str | None = None, read: Callable[[str], str] = input,
         out: TextIO | None = None) -> list[dict]:
    """The interactive loop (``read`` gives the typed lines: ``input`` by default, a script in tests).

    Returns one record per finished episode: its id, steps, return and success.
    """
    import sys

    out = out or sys.stdout
    if read is input:
        try:
            import readline

            readline.set_completer(completer)
            readline.set_completer_delims(" ")
            readline.parse_and_bind("tab: complete")
        except ImportError:  # (no readline on this platform: no completion)
            pass
    env = gym.make("LangRearrange-v0", split=split)
    viewer = Viewer(png)
    where = "the window" if viewer.window else str(viewer.png)
    index, records = episode, []
    obs, info = env.reset(seed=0, options={"episode_index": index})
    total = 0.0
    viewer.show(compose_view(env, info["feedback"]))
    print(f"[{info['episode_id']}] {obs['instruction']}\n{info['feedback']}\n(view: {where}; '?' lists the "
          f"valid skills, 'n' next episode, 'q' quits)", file=out)
    while True:
        try:
            line = read("skill> ").strip()
        except EOFError:
            break
        if line in ("q", "quit", "exit"):
            break
        if line in ("?", "help"):
            valid = np.flatnonzero(info["action_mask"])
            print("valid now: " + ", ".join(f"{i} {SKILL_NAMES[i]}" for i in valid), file=out)
            continue
        if line == "n":
            index += 1
            obs, info = env.reset(seed=0, options={"episode_index": index})
            total = 0.0
            viewer.show(compose_view(env, info["feedback"]))
            print(f"[{info['episode_id']}] {obs['instruction']}", file=out)
            continue
        try:
            skill = parse_skill(line)
        except ValueError as e:
            print(e, file=out)
            continue
        obs, reward, terminated, truncated, info = env.step(skill)
        total += reward
        viewer.show(compose_view(env, info["feedback"], reward))
        print(f"{SKILL_NAMES[skill]}: {info['feedback']} reward {reward:+.2f}, subgoals "
              f"{info['subgoals_done']}/{info['subgoals_total']}", file=out)
        if terminated or truncated:
            records.append({"episode_id": info["episode_id"], "steps": env.unwrapped._t, "return": total,
                            "success": bool(info["success"])})
            print(f"episode over: {'success' if info['success'] else 'failure'}, return {total:+.2f}. "
                  f"'n' for the next one, 'q' to quit.", file=out)
    viewer.close()
    env.close()
    return records
