"""The planner prompt shared by the three zero-shot agents, and the re-planning message.

The prompt is a system message (skills, receptacles, objects, rules, answer format)
followed by two worked examples given as earlier chat turns: an exploring plan for an
object whose place is not said, and a two-object task that is re-planned after the
environment reports a failed pick. It is kept short (about 600 SmolLM2 tokens) so a
small local model can read it whole; ``prompt_token_count`` measures it.

Names come from the environment's catalogue, so the prompt always lists exactly the
skills the environment accepts.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from gym_langrearrange.catalog import CATEGORIES, DRAWERS, PLACE_TARGETS, RECEPTACLES

# rule 3 below relies on this: every receptacle but the drawers is a place target
assert set(PLACE_TARGETS) == set(RECEPTACLES) - set(DRAWERS)

Message = dict[str, str]


def _system_prompt() -> str:
    return "\n".join([
        "You control a home robot. Write the list of skills that carries out the user's instruction.",
        "Skills:",
        "navigate(R): go to receptacle R",
        "pick(O): pick up object O from the receptacle you are at",
        "place(R): put the object you hold on R (you must be at R)",
        "open(R), close(R): open or close the fridge or a cabinet drawer (you must be at it)",
        "stop: the task is done",
        "Receptacles: " + ", ".join(RECEPTACLES) + ".",
        "Objects: " + ", ".join(CATEGORIES) + ".",
        "Rules:",
        "1. Hold one object at a time: place it before you pick another.",
        "2. Only place an object you hold.",
        "3. place works on every receptacle except the cabinet drawers.",
        "4. Open the fridge or a drawer before you pick from it or place into it.",
        "5. If the instruction does not say where an object is, explore: navigate to a receptacle "
        "you have not visited yet and try to pick it there.",
        "6. End the plan with stop.",
        "Answer with the plan only, one skill per line, like: navigate(black table)",
    ])


SYSTEM_PROMPT = _system_prompt()

#: the worked examples, as (role, text) chat turns placed between the system message and the task
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("user", "Instruction: Find a pear and put it on the sofa."),
    ("assistant", "navigate(fridge)\nopen(fridge)\npick(pear)\nnavigate(sofa)\nplace(sofa)\nstop"),
    ("user", "Instruction: Put the apple and the lemon on the left counter."),
    ("assistant", "navigate(brown table)\npick(apple)\nnavigate(left counter)\nplace(left counter)\n"
                  "navigate(chair)\npick(lemon)\nnavigate(left counter)\nplace(left counter)\nstop"),
    ("user", "Feedback: You put the apple on the left counter. You are now at the chair. "
             "Could not pick lemon: no lemon is visible here. You are at the chair, holding nothing. "
             "Not visited yet: sofa, TV stand, sink, fridge, cabinet drawer 3. Write a new plan."),
    ("assistant", "navigate(sink)\npick(lemon)\nnavigate(left counter)\nplace(left counter)\nstop"),
)

def instruction_message(instruction: str) -> str:
    return f"Instruction: {instruction.strip()}"


def build_messages(instruction: str, system: str = SYSTEM_PROMPT,
                   examples: Iterable[tuple[str, str]] = EXAMPLES) -> list[Message]:
    """The chat that asks for a first plan: system, worked examples, the instruction."""
    messages: list[Message] = [{"role": "system", "content": system}]
    messages += [{"role": role, "content": text} for role, text in examples]
    messages.append({"role": "user", "content": instruction_message(instruction)})
    return messages


def feedback_message(feedback: Sequence[str], location: str | None, holding: str | None,
                     unvisited: Sequence[str], note: str | None = None) -> str:
    """The user turn that asks for a new plan.

    ``feedback``: the environment's lines since the last plan (oldest first); ``location``:
    the receptacle the robot stands at (None before the first navigation); ``holding``: the
    object in the gripper (None when empty); ``unvisited``: receptacles of this house not
    visited yet; ``note``: one more sentence (e.g. why the plan ended).
    """
    parts = ["Feedback:"]
    parts += [line.strip() for line in feedback if line and line.strip()]
    if note:
        parts.append(note.strip())
    where = f"You are at the {location}" if location else "You are not at any receptacle"
    parts.append(f"{where}, holding {('the ' + holding) if holding else 'nothing'}.")
    if unvisited:
        parts.append("Not visited yet: " + ", ".join(unvisited) + ".")
    else:
        parts.append("You have visited every receptacle of this house.")
    parts.append("Write a new plan.")
    return " ".join(parts)


def render_plain(messages: Sequence[Message]) -> str:
    """A plain-text rendering of a chat, for tokenizers that have no chat template."""
    lines = []
    for m in messages:
        role = {"system": "", "user": "User: ", "assistant": "Robot plan:\n"}.get(m["role"], m["role"] + ": ")
        lines.append(role + m["content"])
    lines.append("Robot plan:\n")
    return "\n\n".join(lines)


def prompt_token_count(tokenizer, instruction: str = "Bring the apple to the sofa.") -> int:
    """Tokens of the first-plan prompt for ``tokenizer`` (chat template when it has one)."""
    messages = build_messages(instruction)
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)
    return len(tokenizer(render_plain(messages))["input_ids"])
