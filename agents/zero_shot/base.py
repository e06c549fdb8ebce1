"""What the three zero-shot planners share: following a plan, and remembering the episode.

A plan is a list of ``ParsedStep``. Following it, ``act`` returns the next step's skill
id; an unparseable step (or a failed LLM call) is spent as one *invalid* action: the
agent returns a skill that ``info["action_mask"]`` says is invalid right now (the first
one, so runs are deterministic), and the environment counts it like any other invalid
action. The robot's own record (where it stands, what it holds, which receptacles it has
visited, the feedback lines since the last plan) is kept from the ``info`` of each step;
ZS-ChatGPT sends it back when it re-plans.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.core.agent import Agent
from agents.zero_shot.parsing import ParsedStep, plan_text
from gym_langrearrange.catalog import RECEPTACLES
from gym_langrearrange.skills import SKILL_CATALOG, STOP_ID, SkillKind

logger = logging.getLogger("agents.zero_shot")


def invalid_action(info: dict[str, Any]) -> int:
    """A skill that is invalid now (the first by id), so the env counts one invalid action.

    Falls back to ``stop`` if the mask (impossibly) says every skill is valid.
    """
    mask = np.asarray(info.get("action_mask", ()), dtype=bool)
    invalid = np.flatnonzero(~mask)
    return int(invalid[0]) if invalid.size else STOP_ID


@dataclass
class EpisodeMemory:
    """What the robot knows about its own episode, from the env's feedback."""

    location: str | None = None
    holding: str | None = None
    visited: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # receptacles of this house (navigate is valid)
    feedback: list[str] = field(default_factory=list)  # lines since the last plan

    def see(self, info: dict[str, Any]) -> None:
        mask = np.asarray(info.get("action_mask", ()), dtype=bool)
        if mask.size >= len(RECEPTACLES):
            self.present = [r for i, r in enumerate(RECEPTACLES) if mask[i]]

    def record(self, skill: int, info: dict[str, Any], feedback: str | None = None) -> None:
        """The env's answer to ``skill``; ``feedback`` replaces its text in the record."""
        if not info.get("invalid", False):
            s = SKILL_CATALOG[skill]
            if s.kind == SkillKind.NAVIGATE:
                self.location = s.target
                if s.target not in self.visited:
                    self.visited.append(s.target)
            elif s.kind == SkillKind.PICK:
                self.holding = s.target
            elif s.kind == SkillKind.PLACE:
                self.holding = None
        line = feedback if feedback is not None else info.get("feedback", "")
        if line:
            self.feedback.append(str(line))

    @property
    def unvisited(self) -> list[str]:
        return [r for r in self.present if r not in self.visited]


class PlanFollower(Agent):
    """Base of the zero-shot planners: executes ``self.plan`` step by step and logs it.

    Subclasses fill ``self.plan`` (in ``reset`` or lazily in ``act``) and may override
    ``plan_exhausted`` (default: ``stop``).
    """

    needs_rgb = False

    def __init__(self) -> None:
        self.plan: list[ParsedStep] = []
        self.cursor = 0
        self.memory = EpisodeMemory()
        self._log: dict[str, Any] = self._fresh_log("")
        self._last: tuple[str, int, str] | None = None  # (what it was, skill id sent, raw text)

    def _fresh_log(self, instruction: str) -> dict[str, Any]:
        return {"agent": self.name, "instruction": instruction, "calls": [], "steps": [], "unparseable_steps": 0,
                "errors": 0}

    # --- episode ------------------------------------------------------------------------------

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        self.plan, self.cursor = [], 0
        self.memory = EpisodeMemory()
        self.memory.see(info)
        self._last = None
        self._log = self._fresh_log(str(obs.get("instruction", "")))

    def observe(self, info: dict[str, Any]) -> tuple[str, int, str] | None:
        """Record the outcome of the previous action; returns what that action was (or None)."""
        self.memory.see(info)
        last, self._last = self._last, None
        if last is None:
            return None
        kind, skill, raw = last
        invalid = bool(info.get("invalid", False))
        if kind == "skill":
            self.memory.record(skill, info)
        elif kind == "unparseable":
            self.memory.record(skill, info, f'Could not do "{raw}": it is not one of the skills.')
        entry = self._log["steps"][-1] if self._log.get("steps") else None
        if entry is not None and entry.get("feedback") is None and entry.get("source") != "plan ended":
            entry["invalid"], entry["feedback"] = invalid, str(info.get("feedback", ""))
        return last

    def set_plan(self, steps: list[ParsedStep], answer: str) -> None:
        """Adopt a new plan; an answer without any step becomes one unparseable step."""
        if not steps:
            steps = [ParsedStep(None, (answer or "<empty answer>").strip()[:200])]
        self.plan, self.cursor = list(steps), 0
        self.memory.feedback = []

    def next_action(self, info: dict[str, Any]) -> int:
        """The next step of the plan as a skill id (``plan_exhausted`` when there is none)."""
        if self.cursor >= len(self.plan):
            return self.plan_exhausted(info)
        step = self.plan[self.cursor]
        self.cursor += 1
        if step.skill is None:
            self._log["unparseable_steps"] += 1
            return self.spend_invalid(info, "unparseable", step.raw)
        self._last = ("skill", step.skill, step.raw)
        self._log["steps"].append({"do": SKILL_CATALOG.text(step.skill), "source": "plan", "feedback": None})
        return step.skill

    def spend_invalid(self, info: dict[str, Any], why: str, raw: str) -> int:
        """Spend one invalid action because of ``why`` ("unparseable" or "error")."""
        skill = invalid_action(info)
        self._last = (why, skill, raw)
        self._log["steps"].append({"do": SKILL_CATALOG.text(skill), "source": why, "raw": raw[:200], "feedback": None})
        return skill

    def plan_exhausted(self, info: dict[str, Any]) -> int:
        self._last = ("skill", STOP_ID, "stop")
        steps = self._log["steps"]
        if steps and steps[-1].get("source") == "plan ended":  # one entry for the trailing stops
            steps[-1]["times"] = steps[-1].get("times", 1) + 1
        else:
            steps.append({"do": "stop", "source": "plan ended", "feedback": None})
        return STOP_ID

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        self.observe(info)
        return self.next_action(info)

    # --- logging ------------------------------------------------------------------------------

    def log_call(self, request: str, answer: str | None, seconds: float, error: str | None = None,
                 **extra: Any) -> None:
        """Log one LLM call; ``plan`` is the plan adopted from it (the current one unless it failed)."""
        entry: dict[str, Any] = {"request": request, "answer": answer,
                                 "plan": [] if error is not None else plan_text(self.plan),
                                 "seconds": round(float(seconds), 3)}
        if error is not None:
            entry["error"] = error
            self._log["errors"] += 1
        entry.update(extra)
        self._log["calls"].append(entry)

    def episode_log(self) -> dict[str, Any]:
        log = dict(self._log)
        log["visited"] = list(self.memory.visited)
        return log
