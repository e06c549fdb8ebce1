"""What TWOSOME's training leaves of the LLM's language abilities (the paper's §5.5, in small).

Two fixed measures ship with the package, both written for it (no text of them is a training prompt):

- **held-out text**: the mean negative log-likelihood per token of :data:`PASSAGE`, a few paragraphs of
  plain English prose (lower is better);
- **multiple choice**: :data:`QUESTIONS`, everyday-knowledge questions with four short answers each. The
  policy picks an answer the way it picks an action: its own scorer (its normalisation) ranks the four
  texts after the question, and the first is its answer. The score is the fraction answered right.

:func:`measure` gives both with the LoRA adapters on (the trained policy) and off. The adapters are the
only weights TWOSOME trains, so with them off the numbers are the base model's, exactly
(``tests/test_twosome.py`` checks it against a fresh copy of the backbone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.twosome.prompts import ActionTokenizer

PASSAGE = (
    "The library on the corner opens at nine, but the queue starts long before that. Students come with "
    "their laptops and a coffee, retired neighbours come for the newspapers, and parents arrive with small "
    "children who head straight for the picture books. The building is old, with tall windows and a wooden "
    "floor that creaks near the reading tables, and in winter the radiators hiss all morning.\n\n"
    "Most visitors never see the room behind the front desk, where returned books are sorted before they go "
    "back on the shelves. Each one is checked for damage, stamped, and placed on a trolley by section: "
    "history, science, fiction, travel. A torn page is taped, a loose cover is glued, and a book that is too "
    "worn to repair is set aside for the yearly sale, where it usually sells for less than the price of a "
    "bus ticket.\n\n"
    "In the afternoon the library grows quiet. The students leave for their lectures, the light moves slowly "
    "across the floor, and the staff use the calm hour to plan the week: a reading group on Tuesday, a "
    "workshop on family history on Thursday, and on Saturday a visit from a local author who will read from "
    "her new novel about a fishing village on the northern coast."
)


@dataclass(frozen=True)
class Question:
    """One multiple-choice item: the question, its four answers, the index of the right one."""

    text: str
    answers: tuple[str, str, str, str]
    right: int


QUESTIONS = (
    Question("Which animal is known for its long neck?", ("the giraffe", "the rabbit", "the penguin", "the snail"), 0),
    Question("What do bees make?", ("steel", "honey", "glass", "paper"), 1),
    Question("Which season comes after winter?", ("autumn", "summer", "spring", "night"), 2),
    Question("What colour is a clear daytime sky?", ("green", "purple", "black", "blue"), 3),
    Question("Where do fish live?", ("in water", "in the desert", "in the clouds", "in a fire"), 0),
    Question("What do you use to cut paper?", ("a spoon", "scissors", "a pillow", "a sock"), 1),
    Question("How many days are there in a week?", ("three", "five", "seven", "twelve"), 2),
    Question("What falls from clouds when it rains?", ("sand", "leaves", "coins", "water"), 3),
    Question("Which meal is eaten in the morning?", ("breakfast", "dinner", "supper", "midnight snack"), 0),
    Question("What does a thermometer measure?", ("weight", "temperature", "distance", "speed"), 1),
    Question("Which planet do people live on?", ("Mars", "Jupiter", "Earth", "Venus"), 2),
    Question("What do cows drink?", ("oil", "milk", "juice", "water"), 3),
    Question("Where is bread usually baked?", ("in an oven", "in a fridge", "in a bath", "in a drawer"), 0),
    Question("What is frozen water called?", ("steam", "ice", "salt", "smoke"), 1),
    Question("Which of these is a fruit?", ("a carrot", "a potato", "an apple", "an onion"), 2),
    Question("What do people wear on their feet?", ("hats", "gloves", "scarves", "shoes"), 3),
    Question("What gives light at night in the sky?", ("the moon", "the grass", "the ocean", "a chair"), 0),
    Question("Which tool is used to hit a nail?", ("a brush", "a hammer", "a ruler", "a cup"), 1),
    Question("What is the opposite of hot?", ("wet", "loud", "cold", "tall"), 2),
    Question("Which animal says meow?", ("a dog", "a cow", "a duck", "a cat"), 3),
    Question("What do plants need from the sun?", ("light", "music", "plastic", "money"), 0),
    Question("Where do you keep milk cold?", ("in the oven", "in the fridge", "in a cupboard", "on the roof"), 1),
    Question("How many legs does a spider have?", ("two", "four", "eight", "ten"), 2),
    Question("What do you open to enter a room?", ("a window", "a book", "a bottle", "a door"), 3),
)


@dataclass(frozen=True)
class Retention:
    """The two measures of one model (adapters on or off)."""

    nll: float  # mean NLL per token of PASSAGE
    choice_accuracy: float  # fraction of QUESTIONS answered right


def question_prompt(question: Question) -> str:
    return f"Question: {question.text}\nAnswer:"


def passage_nll(policy) -> float:
    """Mean NLL per token of :data:`PASSAGE` under the policy's LLM, adapters as they are set."""
    ids = torch.tensor([policy.tokenizer(PASSAGE)["input_ids"]], device=policy.device)
    with torch.no_grad():
        return float(policy.llm(input_ids=ids, labels=ids).loss)


def choice_accuracy(policy) -> float:
    """Fraction of :data:`QUESTIONS` whose right answer the policy's own scorer ranks first."""
    tokens = ActionTokenizer(policy.tokenizer, n_actions=4, max_prompt_tokens=64)
    rows = [tokens.encode(question_prompt(q), q.answers, np.ones(4, bool)) for q in QUESTIONS]
    obs = {k: torch.as_tensor(np.stack([r[k] for r in rows]), device=policy.device) for k in rows[0]}
    with torch.no_grad():
        chosen = policy.action_logits(obs).argmax(1).cpu().numpy()  # (questions,)
    return float(np.mean(chosen == np.array([q.right for q in QUESTIONS])))


def measure(policy) -> tuple[Retention, Retention]:
    """(with the LoRA adapters on, with them off = the base model) for a :class:`TwosomePolicy`."""
    trained = Retention(passage_nll(policy), choice_accuracy(policy))
    with policy.llm.disable_adapter():
        base = Retention(passage_nll(policy), choice_accuracy(policy))
    return trained, base
