"""The Overcooked kitchen of TWOSOME's salad tasks: map A, primitive dynamics and macro-actions.

Plain world logic (no Gymnasium, no text, no drawing). Coordinates are ``(x, y)`` with x the row
(0 at the top) and y the column (0 at the left). The agent moves with 5 primitive actions; a move
into a non-floor cell is an *interaction* with it (pick up, put down, chop, serve). The agent's
real actions are macro-actions (fetch an item, walk to a board, serve, chop), each run one
primitive step at a time until it is done.

Facts: ``shared/spec/twosome.md`` §1 (maps, interaction table, macro rules, the A* tie-breaks).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

Cell = tuple[int, int]
RIGHT, DOWN, LEFT, UP, STAY = 0, 1, 2, 3, 4
DELTAS = {RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1), UP: (-1, 0), STAY: (0, 0)}
#: the fixed order of the 7 recipes: the task one-hot of the observation
RECIPES = ("tomato salad", "lettuce salad", "onion salad", "lettuce-tomato salad", "onion-tomato salad",
           "lettuce-onion salad", "lettuce-onion-tomato salad")
DISH_ORDER = ("lettuce", "onion", "tomato")  # how a bowl's contents are named
CHOPS_NEEDED = 3
MACRO_DISCOUNT = 0.99  # a macro's reward is sum_k 0.99^k r_k over its primitive steps


@dataclass(frozen=True)
class Layout:
    """A kitchen map: where the counters, boards, delivery and items start, and what to cook."""

    recipe: str
    foods: tuple[str, ...]
    food_starts: tuple[Cell, ...]
    bowl_start: Cell
    boards: tuple[Cell, ...]
    delivery: Cell
    agent_start: Cell
    size: int = 7

    def is_floor(self, cell: Cell) -> bool:
        x, y = cell
        return 0 < x < self.size - 1 and 0 < y < self.size - 1

    def start_of(self, item: str) -> Cell:
        return self.bowl_start if item == "bowl" else self.food_starts[self.foods.index(item)]


TOMATO_SALAD = Layout("tomato salad", ("tomato",), ((0, 5),), bowl_start=(6, 5), boards=((1, 0),),
                      delivery=(3, 0), agent_start=(1, 4))
TOMATO_LETTUCE_SALAD = Layout("lettuce-tomato salad", ("tomato", "lettuce", "onion"), ((0, 5), (1, 6), (2, 6)),
                              bowl_start=(6, 5), boards=((1, 0), (2, 0)), delivery=(3, 0), agent_start=(1, 4))


@dataclass(frozen=True)
class Rewards:
    """Primitive-step rewards (TWOSOME's scripts: ``--env-reward 0.2 1 0.1 0.001``)."""

    subtask: float = 0.2  # a food of the recipe becomes chopped
    delivery: float = 1.0  # the right dish served
    wrong_delivery: float = 0.1  # subtracted: anything else served
    step: float = 0.001  # subtracted at every primitive step


@dataclass(frozen=True)
class Macro:
    """A macro-action: ``kind`` is get_food, get_bowl, go_to_board, deliver or chop."""

    kind: str
    item: str | None = None  # the food of get_food
    board: int = 0  # the board of go_to_board


def macros_of(layout: Layout) -> tuple[Macro, ...]:
    """The action space, in TWOSOME's index order: foods, bowl, boards, deliver, chop."""
    return (*(Macro("get_food", f) for f in layout.foods), Macro("get_bowl"),
            *(Macro("go_to_board", board=k) for k in range(len(layout.boards))), Macro("deliver"), Macro("chop"))


@dataclass
class MacroOutcome:
    reward: float  # sum_k 0.99^k r_k
    primitive_steps: int
    success: bool


@dataclass
class _Node:
    cell: Cell
    g: int
    f: int
    first: int | None

    def __lt__(self, other: "_Node") -> bool:  # non-strict, as in the original: ties follow heap order
        return self.f <= other.f


@dataclass
class Kitchen:
    """The mutable state of one episode and its dynamics."""

    layout: Layout
    rewards: Rewards = field(default_factory=Rewards)
    agent: Cell = (0, 0)
    held: str | None = None
    place: dict[str, Cell | str] = field(default_factory=dict)  # item -> cell, "held", or "bowl" (a food in it)
    chops: dict[str, int] = field(default_factory=dict)
    steps: int = 0  # primitive steps so far

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.agent, self.held, self.steps = self.layout.agent_start, None, 0
        self.place = {item: self.layout.start_of(item) for item in self.items}
        self.chops = {food: 0 for food in self.layout.foods}

    @property
    def items(self) -> tuple[str, ...]:
        return (*self.layout.foods, "bowl")

    # --- what is where ------------------------------------------------------------------------

    def position(self, item: str) -> Cell:
        where = self.place[item]
        if where == "held":
            return self.agent
        if where == "bowl":
            return self.position("bowl")
        return where

    def chopped(self, food: str) -> bool:
        return self.chops[food] >= CHOPS_NEEDED

    def on_cell(self, cell: Cell) -> str | None:
        """The item lying on ``cell`` (at most one: a food, or the bowl with its contents)."""
        return next((item for item in self.items if self.place[item] == cell), None)

    def bowl_contents(self) -> list[str]:
        return [f for f in DISH_ORDER if f in self.layout.foods and self.place[f] == "bowl"]

    def in_view(self, cell: Cell, radius: int) -> bool:
        return abs(cell[0] - self.agent[0]) <= radius and abs(cell[1] - self.agent[1]) <= radius

    # --- primitive dynamics -------------------------------------------------------------------

    def primitive(self, action: int) -> tuple[float, bool]:
        """One primitive step: (reward, success)."""
        self.steps += 1
        reward, success = -self.rewards.step, False
        if action != STAY:
            dx, dy = DELTAS[action]
            target = (self.agent[0] + dx, self.agent[1] + dy)
            if self.layout.is_floor(target):
                self.agent = target
            else:
                gained, success = self._interact(target)
                reward += gained
        return reward, success

    def _put_back(self, item: str) -> None:
        """A served-wrong item goes back to its start, unchopped; the bowl loses its contents too."""
        if item == "bowl":
            for food in self.bowl_contents():
                self._put_back(food)
        else:
            self.chops[item] = 0
        self.place[item] = self.layout.start_of(item)

    def _interact(self, cell: Cell) -> tuple[float, bool]:
        held, thing = self.held, self.on_cell(cell)
        on_board = cell in self.layout.boards
        if cell == self.layout.delivery:
            if held is None:
                return 0.0, False
            self.held = None
            if held == "bowl" and self.bowl_contents() and _dish(self.bowl_contents()) == self.layout.recipe:
                self.place["bowl"] = cell
                return self.rewards.delivery, True
            self._put_back(held)
            return -self.rewards.wrong_delivery, False
        if held is None:
            if thing is None:
                return 0.0, False
            if on_board and thing != "bowl" and not self.chopped(thing):  # chop
                self.chops[thing] += 1
                if self.chopped(thing) and thing in self.layout.recipe:
                    return self.rewards.subtask, False
                return 0.0, False
            self.held, self.place[thing] = thing, "held"
        elif thing is None:  # an empty board (or a bare counter, which map A never offers)
            self.place[held], self.held = cell, None
        elif held == "bowl":
            if thing != "bowl" and self.chopped(thing):
                self.place[thing] = "bowl"
        elif thing == "bowl" and self.chopped(held):  # a chopped food into a bowl
            self.place[held] = "bowl"
            self.held = None
            if on_board:  # ... and the bowl comes along
                self.held, self.place["bowl"] = "bowl", "held"
        return 0.0, False

    # --- macro-actions ------------------------------------------------------------------------

    def run(self, macro: Macro, view_radius: int) -> MacroOutcome:
        """Run ``macro`` to its end, one primitive step at a time (it does not stop at the step cap)."""
        reward, k, success, chops = 0.0, 0, False, 0
        while True:
            if macro.kind == "chop":
                action = self._chop_target()
                done = action == STAY
            else:
                action, done = self._navigate(macro, view_radius)
            r, success = self.primitive(action)
            reward += MACRO_DISCOUNT ** k * r
            k += 1
            if macro.kind == "chop" and action != STAY:
                chops += 1
                done = chops == CHOPS_NEEDED
            if not done and macro.kind != "chop" and action != STAY:
                done = self._arrived(macro)
            if done or success:
                return MacroOutcome(reward, k, success)

    def _chop_target(self) -> int:
        """Towards the first neighbour (right, down, left, up) that is a board with an unchopped food."""
        for action in (RIGHT, DOWN, LEFT, UP):
            cell = _step(self.agent, action)
            thing = self.on_cell(cell)
            if cell in self.layout.boards and thing not in (None, "bowl") and not self.chopped(thing):
                return action
        return STAY

    def _target(self, macro: Macro) -> Cell:
        if macro.kind == "get_food":
            return self.position(macro.item)
        if macro.kind == "get_bowl":
            return self.position("bowl")
        if macro.kind == "go_to_board":
            return self.layout.boards[macro.board]
        return self.layout.delivery

    def _unchopped_on_board(self, macro: Macro) -> bool:
        return (macro.kind == "get_food" and self.place[macro.item] in self.layout.boards
                and not self.chopped(macro.item))

    def _navigate(self, macro: Macro, view_radius: int) -> tuple[int, bool]:
        """The next primitive action of a navigation macro, and whether the macro ends with it."""
        target = self._target(macro)
        if macro.kind == "get_food" and self.place[macro.item] == "bowl" and self.in_view(target, view_radius):
            return STAY, True
        if target == self.agent:
            return STAY, True
        toward = _direction(self.agent, target)
        if toward is not None:  # adjacent: the move is an interaction
            if macro.kind == "get_bowl" and self.held not in (None, "bowl"):
                return (toward, False) if self.chopped(self.held) else (STAY, True)
            if macro.kind == "go_to_board" and self.held is None:
                return STAY, True
            if self._unchopped_on_board(macro):
                return STAY, True
            return toward, True
        move = first_move(self.agent, target, self.layout)
        return (STAY, True) if move is None else (move, False)

    def _arrived(self, macro: Macro) -> bool:
        """Whether a move just made ends the macro next to its target, without interacting."""
        if _direction(self.agent, self._target(macro)) is None:
            return False
        empty_hands = self.held is None
        return ((macro.kind in ("go_to_board", "deliver") and empty_hands) or self._unchopped_on_board(macro))


def first_move(start: Cell, target: Cell, layout: Layout) -> int | None:
    """The first primitive move of a shortest 4-connected floor path to ``target`` (None: no path).

    A* with the original's tie-breaks: f = g + Manhattan distance, a non-strict heap comparison,
    neighbours pushed right, left, down, up, cells marked when pushed, and the search stops as
    soon as ``target`` is generated.
    """
    def h(cell: Cell) -> int:
        return abs(cell[0] - target[0]) + abs(cell[1] - target[1])

    heap, seen = [_Node(start, 0, h(start), None)], {start}
    while heap:
        node = heapq.heappop(heap)
        for action in (RIGHT, LEFT, DOWN, UP):
            cell = _step(node.cell, action)
            first = action if node.first is None else node.first
            if cell == target:
                return first
            if layout.is_floor(cell) and cell not in seen:
                seen.add(cell)
                heapq.heappush(heap, _Node(cell, node.g + 1, node.g + 1 + h(cell), first))
    return None


def _step(cell: Cell, action: int) -> Cell:
    dx, dy = DELTAS[action]
    return cell[0] + dx, cell[1] + dy


def _direction(a: Cell, b: Cell) -> int | None:
    """The primitive move from ``a`` into the adjacent cell ``b`` (None if not adjacent)."""
    for action in (RIGHT, DOWN, LEFT, UP):
        if _step(a, action) == b:
            return action
    return None


def _dish(foods: list[str]) -> str:
    return "-".join(foods) + " salad"
