"""The words of the salad tasks: the prompt TWOSOME's policy reads and the texts of the macro-actions.

Both come from the observation vector alone (what the agent sees), as in the original, where the
policy computed them. The facts each prompt carries and their order follow the original; the
wording is ours. The action texts are the actions' names and change with the state: holding the
bowl, "pick up the tomato" becomes "put the tomato in the bowl" (the same macro-action).
"""
from __future__ import annotations

import numpy as np

from gym_langrearrange.twosome.kitchen import CHOPS_NEEDED, Cell, Layout

_ARTICLE = {"tomato": "a tomato", "lettuce": "a lettuce", "onion": "an onion", "bowl": "a bowl"}


def describe_kitchen(vector: np.ndarray, layout: Layout) -> tuple[str, tuple[str, ...]]:
    """(prompt, the text of every macro-action in index order) for an observation vector."""
    foods, n_foods = layout.foods, len(layout.foods)
    seen = _positions(vector, layout)
    chopped = {f: vector[3 * i + 2] >= CHOPS_NEEDED for i, f in enumerate(foods)}
    agent = seen["agent"]
    one_board = len(layout.boards) == 1
    board_names = ("cutting board",) if one_board else ("first cutting board", "second cutting board")
    bowl_id, deliver_id, chop_id = n_foods, n_foods + 1 + len(layout.boards), n_foods + 2 + len(layout.boards)
    texts = [f"pick up the {f}" for f in foods] + ["take the bowl" if one_board else "take the empty bowl"]
    texts += [f"walk to the {name}" for name in board_names] + ["serve nothing", "chop nothing"]

    def items_at(cell: Cell) -> list[str]:
        return [item for item in (*foods, "bowl") if seen[item] == cell]

    sentences = ["The kitchen has one cutting board." if one_board else "The kitchen has two cutting boards."]
    noticed = [_ARTICLE[item] for item in (*foods, "bowl") if seen[item] == layout.start_of(item)]
    if noticed:
        where = "on a counter" if len(noticed) == 1 else "on separate counters"
        sentences.append(f"You see {_join(noticed)} {where}.")
    for k, (board, name) in enumerate(zip(layout.boards, board_names)):
        here = items_at(board)
        if here == ["bowl"]:
            sentences.append(f"The bowl sits on the {name}.")
        elif len(here) == 1:
            state = "a chopped" if chopped[here[0]] else "an unchopped"
            sentences.append(f"On the {name} lies {state} {here[0]}.")
            if agent == _front(board):
                texts[chop_id] = f"chop the {here[0]}"
        elif here:
            sentences.append(f"On the {name} stands the bowl with chopped {_join(here[:-1])} in it.")
    if not one_board and any(len(items_at(cell)) >= 2 for cell in (agent, *layout.boards)):
        texts[bowl_id] = "take the bowl"

    held = items_at(agent)
    fronts = [name for board, name in zip(layout.boards, board_names) if agent == _front(board)]
    if one_board and agent == _front(layout.boards[0], 1):  # the original counts the cell below as in front too
        fronts = [board_names[0]]
    place = f"You stand in front of the {fronts[0]}" if fronts else "You"
    if not held:
        sentences.append(f"{place} with empty hands." if fronts else "Your hands are empty.")
    elif held == ["bowl"]:
        sentences.append(f"{place}, holding an empty bowl." if fronts else "You are holding an empty bowl.")
    elif "bowl" in held:
        contents = f"a bowl with chopped {_join(held[:-1])}"
        sentences.append(f"{place}, holding {contents}." if fronts else f"You are holding {contents}.")
    else:
        food = f"{'a chopped' if chopped[held[0]] else 'an unchopped'} {held[0]}"
        sentences.append(f"{place}, holding {food}." if fronts else f"You are holding {food}.")
    if held:
        texts[deliver_id] = "serve the dish"
    if "bowl" in held:
        texts[:n_foods] = [f"put the {f} in the bowl" for f in foods]
        texts[n_foods + 1:deliver_id] = [f"put the bowl on the {name}" for name in board_names]
    elif held and not chopped[held[0]]:
        texts[n_foods + 1:deliver_id] = [f"put the {held[0]} on the {name}" for name in board_names]
    recipe = [f for f in ("tomato", "lettuce", "onion") if f in layout.recipe]
    sentences.append(f"To serve a bowl of nothing but chopped {_join(recipe)}, your next move is to")
    return " ".join(sentences), tuple(texts)


def _positions(vector: np.ndarray, layout: Layout) -> dict[str, Cell]:
    """Each item's observed cell; an item out of view reads (0, 0), as in the vector."""
    seen, n = {}, len(layout.foods)
    for i, food in enumerate(layout.foods):
        seen[food] = (int(vector[3 * i]), int(vector[3 * i + 1]))
    seen["bowl"] = (int(vector[3 * n]), int(vector[3 * n + 1]))
    agent_at = 3 * n + 2 * (2 + len(layout.boards))
    seen["agent"] = (int(vector[agent_at]), int(vector[agent_at + 1]))
    return seen


def _front(board: Cell, below: int = 0) -> Cell:
    """The floor cell from which the agent works at ``board`` (boards sit in the left wall)."""
    return board[0] + below, board[1] + 1


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
