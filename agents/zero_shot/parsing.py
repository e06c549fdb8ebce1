"""Turning an LLM's answer into skills, leniently.

``parse_plan(text)`` reads the plan a language model wrote and returns one
``ParsedStep`` per step it meant to take, in order. A step is a skill id, or an
*unparseable* marker holding the raw text (the agent spends one invalid action on it).

What is forgiven:

* case, spacing, quotes and keyword arguments: ``Navigate( "Left Counter" )``,
  ``pick(object='apple')``;
* the original release's skill names and other usual synonyms: ``place_on_recep(x)``,
  ``open_fridge()``, ``close_fridge()``, ``open_cabinet(cabinet drawer 2)``,
  ``open_drawer(...)``, ``nav(...)``, ``go_to(...)``, ``pick_up(...)``, ``put(...)``,
  ``STOP`` / ``done``;
* an argument-less ``place()`` / ``open()`` / ``close()`` acts on the receptacle the plan
  last navigated to;
* object instances, plurals and a few aliases: ``pick(red apple)``, ``pick(apples)``,
  ``navigate(couch)``, ``open(drawer 3)``;
* layout: numbered or bulleted lists, one line with commas, a Python list
  (``plan = [navigate("sofa"), ...]``), code fences, trailing ``# comments``, prose
  before and after, list items written as sentences ("2. Pick up the apple.").

What is not: a skill naming something the world does not have (``pick(unicorn)``), or
one the environment has no skill for (``place(cabinet drawer 1)``: drawers are not place
targets) is an unparseable step, as is a list item that says nothing we understand.
Prose outside lists is ignored, except skills written inside it that name real things
and short lines that start with a skill's verb ("Navigate to the sofa."). The plan ends
at its first ``stop``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gym_langrearrange.catalog import CATEGORY_INFO, DRAWERS, FRIDGE, OPENABLE, PLACE_TARGETS, RECEPTACLES
from gym_langrearrange.skills import SKILL_CATALOG, STOP_ID


@dataclass(frozen=True)
class ParsedStep:
    """One step of a plan: ``skill`` is a skill id, or None when ``raw`` could not be understood."""

    skill: int | None
    raw: str

    @property
    def ok(self) -> bool:
        return self.skill is not None

    @property
    def text(self) -> str:
        return SKILL_CATALOG.text(self.skill) if self.skill is not None else f"<unparseable: {self.raw}>"

    def to_json(self) -> dict[str, Any]:
        return {"skill": SKILL_CATALOG.text(self.skill) if self.skill is not None else None, "raw": self.raw}


# --- names --------------------------------------------------------------------------------

def _norm(name: str) -> str:
    name = name.lower().replace("_", " ").replace("-", " ")
    name = re.sub(r"[\"'`\u2018\u2019\u201c\u201d]", "", name)
    name = re.sub(r"[^a-z0-9 #]", " ", name).replace("#", " ")
    name = " ".join(name.split())
    return re.sub(r"^(?:the|a|an|some|one|your)\s+", "", name)


def _receptacle_names() -> dict[str, str]:
    names = {_norm(r): r for r in RECEPTACLES}
    names.update({"tv": "TV stand", "television": "TV stand", "television stand": "TV stand", "tv table": "TV stand",
                  "tvstand": "TV stand", "couch": "sofa", "armchair": "chair", "refrigerator": FRIDGE,
                  "fridge door": FRIDGE, "kitchen sink": "sink", "bookshelf": "shelf", "shelves": "shelf"})
    for i, d in enumerate(DRAWERS, start=1):
        for form in (f"drawer {i}", f"cabinet {i}", f"cabinet drawer{i}", f"cabinetdrawer {i}",
                     f"cabinet drawer no {i}", f"drawer{i}", f"cabinet{i}"):
            names[form] = d
    return names


def _category_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for c, info in CATEGORY_INFO.items():
        for form in (*info.instances, info.plural_name, c):
            names[_norm(form)] = c
    names.update({"rubik s cube": "rubiks cube", "rubik cube": "rubiks cube", "rubrik s cube": "rubiks cube",
                  "rubriks cube": "rubiks cube", "rubiks": "rubiks cube", "cube": "rubiks cube",
                  "airplane": "toy airplane", "toy plane": "toy airplane", "plane": "toy airplane",
                  "screw driver": "screwdriver", "lego brick": "lego", "legos": "lego", "soup can": "can",
                  "wood block": "block", "pair of scissors": "scissors", "scissor": "scissors"})
    return names


RECEPTACLE_NAMES = _receptacle_names()
CATEGORY_NAMES = _category_names()


def _lookup(arg: str, table: dict[str, str], prefix: bool = False) -> str | None:
    name = _norm(arg)
    if name in table:
        return table[name]
    if prefix:  # "left counter where the apple is" -> left counter
        for key in sorted(table, key=len, reverse=True):
            if name.startswith(key + " "):
                return table[key]
    return None


def find_receptacle(arg: str, prefix: bool = False) -> str | None:
    """The receptacle an argument names (aliases forgiven), or None."""
    return _lookup(arg, RECEPTACLE_NAMES, prefix)


def find_category(arg: str, prefix: bool = False) -> str | None:
    """The object category an argument names (instances, plurals, aliases forgiven), or None."""
    return _lookup(arg, CATEGORY_NAMES, prefix)


# --- verbs --------------------------------------------------------------------------------

#: verb as written (lower case, spaces as underscores) -> (skill kind, fixed argument or None)
VERBS: dict[str, tuple[str, str | None]] = {}
for _verb in ("navigate", "nav", "navigate_to", "navigateto", "go", "go_to", "goto", "move_to", "moveto", "walk_to",
              "travel_to", "visit", "move", "approach", "navigate_recep", "navigate_to_recep"):
    VERBS[_verb] = ("navigate", None)
for _verb in ("pick", "pick_up", "pickup", "grab", "take", "get", "grasp", "pick_object", "pick_obj"):
    VERBS[_verb] = ("pick", None)
for _verb in ("place", "place_on_recep", "place_on_receptacle", "place_recep", "place_on", "place_in", "place_at",
              "put", "put_on", "put_in", "put_down", "drop", "drop_off", "place_object"):
    VERBS[_verb] = ("place", None)
for _verb in ("open", "open_cabinet", "open_drawer", "open_recep", "open_receptacle", "open_door"):
    VERBS[_verb] = ("open", None)
for _verb in ("close", "close_cabinet", "close_drawer", "close_recep", "close_receptacle", "close_door"):
    VERBS[_verb] = ("close", None)
VERBS["open_fridge"] = ("open", FRIDGE)
VERBS["close_fridge"] = ("close", FRIDGE)
for _verb in ("stop", "done", "finish", "finished", "end", "terminate", "stop_episode"):
    VERBS[_verb] = ("stop", None)

STOP_WORDS = frozenset({"stop", "done", "finish", "finished", "end", "terminate", "stop episode", "task complete",
                        "task completed", "the end"})

_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(([^()]*)\)")
_FULL_CALL = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_][\w ]*?)\s*\(([^()]*)\)$")
_LIST_MARK = re.compile(r"^\s*(?:[-*\u2022+>]\s|\d+\s*[.):]|\(\d+\)|\[\d+\]|step\s*\d+\s*[:.)-]?)\s*", re.I)
_LABEL = re.compile(r"^(?:#+\s*)?(?:assistant|robot|robot plan|plan|new plan|answer|output|response|skills?|"
                    r"actions?|a)\s*(?::|=|->)\s*", re.I)
_TURN = re.compile(r"^\s*(?:#+\s*)?(?:user|human|instruction|feedback|system|question)\s*:|^\s*<\|", re.I)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_SPECIAL = re.compile(r"<\|[^|>]*\|>|</?s>")
_END_OF_TURN = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|eot_id\|>|<\|endoftext\|>|<end_of_turn>|</s>")
#: a plain line that reads like one skill ("Navigate to the sofa."): short and starting with a skill verb
_SKILL_SENTENCE = re.compile(r"^(?:navigate|pick|place|open|close|stop)\b(?:\W+\w+){0,7}\W*$", re.I)


def _verb(word: str) -> tuple[str, str | None] | None:
    return VERBS.get("_".join(word.lower().replace("-", "_").split()))


def _split_args(args: str) -> list[str]:
    parts = [a.strip() for a in re.split(r"[,;]", args)]
    parts = [re.sub(r"^\w+\s*=\s*", "", a) for a in parts]  # object="apple"
    return [a for a in parts if _norm(a)]


def _resolve(kind: str, fixed: str | None, args: list[str], last_nav: str | None) -> int | None:
    """Skill id for a call, or None."""
    if kind == "stop":
        return STOP_ID
    if fixed is not None:
        if args and find_receptacle(args[0]) != fixed:
            return None
        return SKILL_CATALOG.id(f"{kind}({fixed})")
    if kind == "pick":
        pieces = [p for a in args for p in re.split(r"\s+(?:from|on|in|at|off)\s+", a)]
        for p in pieces:
            c = find_category(p)
            if c is not None:
                return SKILL_CATALOG.id(f"pick({c})")
        return None
    if kind == "place":
        pieces = [p for a in args for p in re.split(r"\s+(?:on|in|into|onto|at|inside|to)\s+", a)]
        if not pieces and last_nav is not None:
            pieces = [last_nav]
        for p in reversed(pieces):  # place(apple, sofa): the receptacle comes last
            r = find_receptacle(p)
            if r is not None:
                return SKILL_CATALOG.id(f"place({r})") if r in PLACE_TARGETS else None
        return None
    if not args and kind in ("open", "close") and last_nav is not None:
        args = [last_nav]
    for a in args:
        r = find_receptacle(a)
        if r is not None:
            if kind in ("open", "close") and r not in OPENABLE:
                return None
            return SKILL_CATALOG.id(f"{kind}({r})")
    return None


# sentences in list items: "Navigate to the sofa.", "Pick up the apple", "Place it on the sofa"
_NL_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("navigate", re.compile(r"^(?:navigate|go|walk|move|head|return|travel)\s+(?:back\s+)?(?:over\s+)?"
                            r"(?:to(?:wards)?\s+)?(?P<r>.+)$")),
    ("pick", re.compile(r"^(?:pick\s+up|pick|grab|take|get|grasp)\s+(?P<o>.+?)"
                        r"(?:\s+(?:from|off|on|in|at|out)\b.*)?$")),
    ("place", re.compile(r"^(?:place|put|drop|set)\s+(?:down\s+)?(?:(?P<o>.+?)\s+)?"
                         r"(?:on|in|into|onto|at|inside|on top of)\s+(?P<r>.+)$")),
    ("open", re.compile(r"^open\s+(?P<r>.+)$")),
    ("close", re.compile(r"^close\s+(?P<r>.+)$")),
)


def _parse_sentence(item: str) -> int | None:
    s = _norm(item)
    if s in STOP_WORDS or re.match(r"^(?:stop|done)\b", s):
        return STOP_ID
    for kind, pattern in _NL_PATTERNS:
        m = pattern.match(s)
        if m is None:
            continue
        if kind == "pick":
            c = find_category(m.group("o"), prefix=True)
            return SKILL_CATALOG.id(f"pick({c})") if c else None
        r = find_receptacle(m.group("r"), prefix=True)
        if r is None:
            return None
        if kind == "place":
            return SKILL_CATALOG.id(f"place({r})") if r in PLACE_TARGETS else None
        if kind in ("open", "close") and r not in OPENABLE:
            return None
        return SKILL_CATALOG.id(f"{kind}({r})")
    return None


# --- layout -------------------------------------------------------------------------------

def _split_top(line: str) -> list[str]:
    """Split at commas, semicolons and arrows outside parentheses."""
    items, depth, cur, i = [], 0, [], 0
    while i < len(line):
        ch = line[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if depth == 0 and (ch in ",;\u2192" or line.startswith("->", i) or line.startswith("=>", i)):
            items.append("".join(cur))
            cur = []
            i += 2 if line.startswith(("->", "=>"), i) else 1
            continue
        cur.append(ch)
        i += 1
    items.append("".join(cur))
    return items


def _strip_comment(line: str) -> str:
    # a '#' after content (outside quotes) starts a comment; '//' too
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (i == 0 or not line[i - 1].isalnum()):
            quote = ch
        elif ch == "#" and line[:i].strip() and not line[i + 1:i + 2].isdigit():
            return line[:i]
        elif line.startswith("//", i) and line[:i].strip():
            return line[:i]
    return line


def _select_region(text: str) -> tuple[str, bool]:
    """(the part of the answer holding the plan, whether it is code-like)."""
    if "```" in text:
        blocks = text.split("```")[1::2]
        for block in blocks:
            body = re.sub(r"^[A-Za-z]*\n", "", block)  # language tag
            if _CALL.search(body) or re.search(r"\bstop\b", body, re.I):
                return body, True
    m = re.search(r"\b\w*plan\w*\s*(?::|=)\s*\[", text, re.I) or re.search(r"^\s*\[\s*$", text, re.M)
    if m:
        start, depth = m.end(), 1
        for i in range(start, len(text)):
            if text[i] in "([":
                depth += 1
            elif text[i] in ")]":
                depth -= 1
                if depth == 0:
                    return text[start:i], True
        return text[start:], True
    return text, False


def _clean_item(item: str) -> tuple[str, bool]:
    """(item without list marks, labels, quotes and trailing punctuation; whether it was a list item)."""
    s = item.strip()
    listed = False
    m = _LIST_MARK.match(s)
    if m:
        s, listed = s[m.end():], True
    s = _LABEL.sub("", s).strip()
    for _ in range(3):
        s = s.strip().lstrip("[{").rstrip("]}").strip()
        s = re.sub(r"[.,;:!]+$", "", s).strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'`":
            s = s[1:-1]
        s = s.strip("*_`")  # markdown emphasis
    return s.strip(), listed


def parse_plan(text: str, max_steps: int | None = 64) -> list[ParsedStep]:
    """The steps of the plan written in ``text`` (see the module docstring for what is forgiven).

    Never raises on any string; at most ``max_steps`` steps are returned.
    """
    if not isinstance(text, str):
        return []
    text = _THINK.sub("", text)
    text = next((seg for seg in _END_OF_TURN.split(text) if seg.strip()), "")  # the first turn only
    text = _SPECIAL.sub("\n", text)
    region, code = _select_region(text)
    steps: list[ParsedStep] = []
    last_nav: str | None = None

    def add(skill: int | None, raw: str) -> bool:
        nonlocal last_nav
        steps.append(ParsedStep(skill, raw.strip()))
        if skill is not None and SKILL_CATALOG[skill].text.startswith("navigate("):
            last_nav = SKILL_CATALOG[skill].target
        return skill == STOP_ID or (max_steps is not None and len(steps) >= max_steps)

    for line in region.splitlines():
        if _TURN.match(line):
            if steps:
                break  # the model goes on to imagine the next turn
            continue
        stripped = line.strip()
        if stripped.startswith("#"):
            if not _CALL.search(stripped):
                continue  # a heading or a whole-line comment
            stripped = _LABEL.sub("", stripped.lstrip("#").strip())
        stripped = _strip_comment(stripped)
        line_listed = bool(_LIST_MARK.match(stripped))
        for piece in _split_top(stripped):
            item, listed = _clean_item(piece)
            listed = listed or line_listed or code
            if not re.search(r"[A-Za-z]", item):
                continue
            m = _FULL_CALL.match(item)
            if m and (" " not in m.group(1).strip() or _verb(m.group(1)) is not None):
                verb = _verb(m.group(1))
                skill = None if verb is None else _resolve(*verb, _split_args(m.group(2)), last_nav)
                if add(skill, item):
                    return steps
                continue
            if _norm(item) in STOP_WORDS:
                if add(STOP_ID, item):
                    return steps
                continue
            calls = [(c, _verb(c.group(1))) for c in _CALL.finditer(item)]
            calls = [(c, v) for c, v in calls if v is not None]
            if calls:  # skills inside a sentence: keep the ones we understand
                for c, verb in calls:
                    skill = _resolve(*verb, _split_args(c.group(2)), last_nav)
                    if skill is not None and add(skill, c.group(0)):
                        return steps
                continue
            if listed or _SKILL_SENTENCE.match(item):
                if add(_parse_sentence(item), item):
                    return steps
    return steps


def plan_text(steps: list[ParsedStep]) -> list[str]:
    """The steps as readable strings (for logs)."""
    return [s.text for s in steps]


def plan_complete(text: str, max_lines: int = 40, repeats: int = 3) -> bool:
    """Whether a plan being generated can stop here (a stop test for decoding).

    True once a finished line says stop, a list or code fence closes after a step, the
    model starts to write the next chat turn, the same line comes ``repeats`` times in a
    row (a small model caught in a loop), or ``max_lines`` lines are written.
    """
    if "\n" not in text:
        return False
    lines = [line.strip() for line in text.split("\n")[:-1]]  # finished lines only
    filled = [line for line in lines if line]
    if not filled:
        return False
    last = filled[-1]
    if len(filled) >= max_lines:
        return True
    if len(filled) >= repeats and len(set(filled[-repeats:])) == 1:
        return True
    earlier = "\n".join(filled[:-1])
    has_step = bool(parse_plan(earlier)) if earlier else False
    if has_step and (last.startswith("]") or last.startswith("```") or _TURN.match(last)):
        return True
    steps = parse_plan(last)
    return bool(steps) and steps[-1].skill == STOP_ID
