"""The world catalog: receptacles, object categories, instances, attributes and groups.

Plain data only (spec §2). Every other module indexes receptacles and categories by
their position in the tuples below, so their order is part of the public contract:
it fixes the skill ids of spec §3.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- receptacles -----------------------------------------------------------------------

RECEPTACLES: tuple[str, ...] = (
    "sofa", "chair", "black table", "brown table", "coffee table", "TV stand", "shelf",
    "left counter", "sink", "right counter", "fridge",
    "cabinet drawer 1", "cabinet drawer 2", "cabinet drawer 3", "cabinet drawer 4",
)
RECEPTACLE_INDEX: dict[str, int] = {name: i for i, name in enumerate(RECEPTACLES)}
NUM_RECEPTACLES = len(RECEPTACLES)

SURFACES: tuple[str, ...] = RECEPTACLES[:10]
FRIDGE = "fridge"
DRAWERS: tuple[str, ...] = RECEPTACLES[11:]
#: receptacles that open and close (fridge first, then the drawers): spec §3 ids 59-68.
OPENABLE: tuple[str, ...] = (FRIDGE,) + DRAWERS
#: where an object can be put with ``place`` (ids 48-58): the surfaces and the fridge.
PLACE_TARGETS: tuple[str, ...] = SURFACES + (FRIDGE,)
#: receptacles only some scenes have.
OPTIONAL_RECEPTACLES: tuple[str, ...] = ("coffee table", "shelf")
KITCHEN_BLOCK: tuple[str, ...] = ("left counter", "sink", "right counter")

# --- object categories ----------------------------------------------------------------

TRAIN_CATEGORIES: tuple[str, ...] = (
    "ball", "clamp", "hammer", "screwdriver", "padlock", "scissors", "block", "drill",
    "spatula", "knife", "spoon", "plate", "sponge", "cleanser", "plum", "pear", "peach",
    "apple", "lemon", "can", "box", "banana", "strawberry", "lego", "rubiks cube", "book",
    "bowl", "cup",
)
HELDOUT_CATEGORIES: tuple[str, ...] = ("mug", "orange", "lid", "toy airplane", "wrench")
CATEGORIES: tuple[str, ...] = TRAIN_CATEGORIES + HELDOUT_CATEGORIES
CATEGORY_INDEX: dict[str, int] = {name: i for i, name in enumerate(CATEGORIES)}
NUM_CATEGORIES = len(CATEGORIES)


@dataclass(frozen=True)
class CategoryInfo:
    """What language may say about a category: its instances, articles, plural, attributes."""

    name: str
    instances: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    article: str = "a"
    plural: str = ""

    @property
    def with_article(self) -> str:
        return f"{self.article} {self.name}"

    @property
    def plural_name(self) -> str:
        return self.plural or self.name + "s"


def _c(name: str, instances: tuple[str, ...], attributes: tuple[str, ...] = (), article: str = "a",
       plural: str = "") -> CategoryInfo:
    return CategoryInfo(name, instances, attributes, article, plural)


CATEGORY_INFO: dict[str, CategoryInfo] = {c.name: c for c in (
    _c("ball", ("soccer ball", "softball", "baseball", "tennis ball", "racquetball"), ("round", "toy", "sports")),
    _c("clamp", ("large clamp", "small clamp", "spring clamp"), ("tool",)),
    _c("hammer", ("claw hammer", "mallet hammer"), ("tool",)),
    _c("screwdriver", ("flat screwdriver", "phillips screwdriver"), ("tool",)),
    _c("padlock", ("brass padlock", "steel padlock"), ()),
    _c("scissors", ("red scissors", "blue scissors"), ("cutting",), article="a pair of", plural="pairs of scissors"),
    _c("block", ("red wood block", "blue wood block", "green wood block"), ()),
    _c("drill", ("yellow drill", "teal drill"), ("tool",)),
    _c("spatula", ("black spatula", "red spatula"), ("kitchenware",)),
    _c("knife", ("chef knife", "paring knife"), ("cutting",), plural="knives"),
    _c("spoon", ("steel spoon", "wooden spoon"), ("kitchenware",)),
    _c("plate", ("white plate", "blue plate", "red plate"), ("kitchenware",)),
    _c("sponge", ("yellow sponge", "pink sponge"), ("cleaning",)),
    _c("cleanser", ("blue cleanser", "white cleanser"), ("cleaning",)),
    _c("plum", ("plum",), ("purple", "small", "fruit")),
    _c("pear", ("green pear", "yellow-green pear"), ("green", "fruit")),
    _c("peach", ("peach",), ("round", "orange-pink", "fruit"), plural="peaches"),
    _c("apple", ("red apple", "dark red apple"), ("round", "red", "fruit"), article="an"),
    _c("lemon", ("lemon",), ("round", "yellow", "fruit")),
    _c("can", ("tomato soup can", "cola can", "lime soda can", "tuna can"), ()),
    _c("box", ("cracker box", "sugar box", "gelatin box"), (), plural="boxes"),
    _c("banana", ("banana",), ("curved", "yellow", "fruit")),
    _c("strawberry", ("strawberry",), ("small", "red", "fruit"), plural="strawberries"),
    _c("lego", ("red lego", "yellow lego", "blue lego"), ("toy",)),
    _c("rubiks cube", ("rubiks cube",), ("toy",)),
    _c("book", ("red book", "blue book", "green book", "orange book"), ()),
    _c("bowl", ("white bowl", "red bowl", "blue bowl"), ("kitchenware",)),
    _c("cup", ("red cup", "blue cup", "green cup", "yellow cup"), ("kitchenware", "hot drinks")),
    _c("mug", ("white mug", "black mug"), ("kitchenware", "hot drinks")),
    _c("orange", ("orange",), ("round", "orange", "fruit"), article="an"),
    _c("lid", ("pot lid", "jar lid"), ("kitchenware",)),
    _c("toy airplane", ("red toy airplane", "blue toy airplane"), ("toy",)),
    _c("wrench", ("small wrench", "large wrench"), ("tool",)),
)}
assert tuple(CATEGORY_INFO) == CATEGORIES
assert all(1 <= len(c.instances) <= 5 for c in CATEGORY_INFO.values())

# --- category groups ------------------------------------------------------------------

#: Named sets of categories that goal expressions may quantify over (spec §6-7).
CATEGORY_GROUPS: dict[str, frozenset[str]] = {
    "fruit": frozenset({"plum", "pear", "peach", "apple", "lemon", "strawberry", "banana", "orange"}),
    "tools": frozenset({"screwdriver", "hammer", "drill", "wrench", "clamp"}),
    "kitchenware": frozenset({"cup", "mug", "bowl", "plate", "spatula", "spoon", "lid"}),
    # context groups: what fits a described situation
    "sports_equipment": frozenset({"ball"}),
    "screw_fixer": frozenset({"screwdriver"}),
    "paper_cutter": frozenset({"scissors"}),
    "spill_cleaner": frozenset({"sponge"}),
    "hot_drink_vessel": frozenset({"cup", "mug"}),
}


def category_set(type_name: str) -> frozenset[str]:
    """The categories a goal type names: one category, or a group."""
    if type_name in CATEGORY_INFO:
        return frozenset({type_name})
    if type_name in CATEGORY_GROUPS:
        return CATEGORY_GROUPS[type_name]
    allowed = sorted(CATEGORY_INFO) + sorted(CATEGORY_GROUPS)
    raise ValueError(f"unknown object type {type_name!r}; allowed: {', '.join(allowed)}")
