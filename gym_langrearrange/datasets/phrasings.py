"""Natural-language phrasings of the instruction templates (spec §7).

Plain data plus a small self-check (:func:`check`). Every phrasing is a
:meth:`str.format` template. The episode generator fills in the placeholders:

``{a_obj}`` / ``{a_obj1..3}``
    an object category with its indefinite article ("an apple", "a pair of scissors").
``{obj}`` / ``{obj1..3}``
    the bare category name ("apple", "scissors"). The text always puts "the" before it.
    It never takes a verb that has to agree with it and never comes back as a pronoun,
    because "scissors" is plural.
``{objs}``
    the plural ("apples", "pairs of scissors").
``{src}``, ``{dst}``, ``{rec1}``, ``{rec2}``, ``{dst1..3}``, ``{other_rec}``
    a receptacle name without an article ("black table", "fridge", "cabinet drawer 2").
    The text supplies "the". Wording fits surfaces, the fridge and drawers alike: "from the
    {src}", "to/at the {dst}", never "on the {src}".
``{desc}`` / ``{a_desc}``
    an appearance description from :data:`DESCRIPTIONS` (without / with article).
``{dst_ref}``
    a full referring phrase for a receptacle, article included
    ("the receptacle to the right of the left counter").
``{a_other}``
    a distractor object with its article (irrelevant-text dataset).

``TRAIN`` maps concept -> phrasings. ``EVAL`` maps dataset -> concept -> phrasings.
``new_scenes`` and ``novel_objects`` reuse ``TRAIN``, so they have no entry here.
"""
from __future__ import annotations

import re
import string

# --- placeholders per concept -----------------------------------------------------------

#: The placeholders each concept's phrasings must use (all of them, and no others).
PLACEHOLDERS: dict[str, frozenset[str]] = {
    # training concepts (also the rephrasing dataset)
    "move_to": frozenset({"a_obj", "dst"}),
    "move_from_to": frozenset({"a_obj", "src", "dst"}),
    "move_off": frozenset({"obj", "src"}),
    "two_on": frozenset({"a_obj1", "a_obj2", "dst"}),
    "swap": frozenset({"obj1", "obj2", "rec1", "rec2"}),
    "close_fridge": frozenset(),
    "open_fridge": frozenset(),
    "go_to": frozenset({"dst"}),
    "find": frozenset({"a_obj"}),
    # context dataset: the object is implied by the situation
    "sports_equipment": frozenset({"dst"}),
    "screw_fixer": frozenset({"dst"}),
    "paper_cutter": frozenset({"dst"}),
    "spill_cleaner": frozenset({"dst"}),
    "hot_drink_vessel": frozenset({"dst"}),
    # multiple_rearrangements
    "three_moves": frozenset({"obj1", "dst1", "obj2", "dst2", "obj3", "dst3"}),
    "three_on": frozenset({"a_obj1", "a_obj2", "a_obj3", "dst"}),
    # multiple_objects
    "all_to": frozenset({"objs", "dst"}),
    "all_from_to": frozenset({"objs", "src", "dst"}),
    # conditional_instructions
    "if_fridge_open": frozenset({"a_obj1", "dst1", "a_obj2", "dst2"}),
}

#: Datasets that reuse a concept name with different placeholders. These override
#: :data:`PLACEHOLDERS` for that dataset only.
PLACEHOLDER_OVERRIDES: dict[str, dict[str, frozenset[str]]] = {
    "referring_expressions": {
        "move_to": frozenset({"a_desc", "dst"}),
        "move_from_to": frozenset({"a_desc", "src", "dst"}),
    },
    "spatial_relationships": {
        "move_to": frozenset({"a_obj", "dst_ref"}),
        "move_from_to": frozenset({"a_obj", "src", "dst_ref"}),
    },
    "irrelevant_text": {
        "move_to": frozenset({"a_other", "other_rec", "a_obj", "dst"}),
    },
}


def placeholders_for(dataset: str, concept: str) -> frozenset[str]:
    """The placeholders that ``concept``'s phrasings use in ``dataset`` ("train" for TRAIN)."""
    override = PLACEHOLDER_OVERRIDES.get(dataset, {})
    if concept in override:
        return override[concept]
    return PLACEHOLDERS[concept]


# --- training phrasings -----------------------------------------------------------------

TRAIN: dict[str, tuple[str, ...]] = {
    "move_to": (
        "Bring {a_obj} to the {dst}.",
        "Move {a_obj} to the {dst}.",
        "Take {a_obj} to the {dst}.",
        "Find {a_obj} and carry it to the {dst}.",
        "Pick up {a_obj} and bring it to the {dst}.",
        "Please get {a_obj} over to the {dst}.",
        "Could you move {a_obj} to the {dst}?",
        "I need {a_obj} at the {dst}.",
        "Grab {a_obj} and drop it off at the {dst}.",
        "Put {a_obj} at the {dst}, please.",
        "Fetch {a_obj} and leave it at the {dst}.",
        "Get {a_obj} and set it down at the {dst}.",
        "Go get {a_obj} and take it over to the {dst}.",
    ),
    "move_from_to": (
        "Move {a_obj} from the {src} to the {dst}.",
        "Take {a_obj} from the {src} to the {dst}.",
        "Bring {a_obj} from the {src} over to the {dst}.",
        "Pick up {a_obj} from the {src} and put it at the {dst}.",
        "Grab {a_obj} from the {src} and carry it to the {dst}.",
        "Get {a_obj} from the {src} and bring it to the {dst}.",
        "Please move {a_obj} from the {src} over to the {dst}.",
        "Could you take {a_obj} from the {src} to the {dst}?",
        "Fetch {a_obj} from the {src} and leave it at the {dst}.",
        "Go to the {src}, pick up {a_obj}, and take it to the {dst}.",
        "I'd like {a_obj} from the {src} moved to the {dst}.",
        "Carry {a_obj} from the {src} to the {dst}.",
    ),
    "move_off": (
        "Take the {obj} away from the {src}.",
        "Remove the {obj} from the {src}.",
        "Move the {obj} away from the {src}.",
        "Get the {obj} away from the {src}.",
        "Could you take the {obj} away from the {src}?",
        "Please clear the {obj} away from the {src}.",
        "The {obj} should be moved away from the {src}.",
        "Move the {obj} from the {src} to a different receptacle.",
        "Take the {obj} from the {src} to somewhere else.",
        "I'd like the {obj} moved away from the {src}.",
        "Carry the {obj} from the {src} to any other spot.",
        "Clear the {src} of the {obj}.",
    ),
    "two_on": (
        "Bring {a_obj1} and {a_obj2} to the {dst}.",
        "Move {a_obj1} and {a_obj2} to the {dst}.",
        "Take {a_obj1} and {a_obj2} to the {dst}.",
        "Place both {a_obj1} and {a_obj2} at the {dst}.",
        "Get {a_obj1} and {a_obj2} over to the {dst}.",
        "Carry {a_obj1} to the {dst}, and then {a_obj2} as well.",
        "Bring {a_obj1} to the {dst}, then bring {a_obj2} there too.",
        "I need {a_obj1} and also {a_obj2} at the {dst}.",
        "Could you move {a_obj1} and {a_obj2} to the {dst}?",
        "Both {a_obj1} and {a_obj2} should go to the {dst}.",
        "Fetch {a_obj1} and {a_obj2} and leave them at the {dst}.",
        "Take {a_obj1} to the {dst} and do the same with {a_obj2}.",
    ),
    "swap": (
        "Swap the {obj1} from the {rec1} with the {obj2} from the {rec2}.",
        "Exchange the {obj1} from the {rec1} and the {obj2} from the {rec2}.",
        "Move the {obj1} from the {rec1} to the {rec2}, and the {obj2} from the {rec2} to the {rec1}.",
        "Take the {obj1} from the {rec1} to the {rec2} and bring the {obj2} from the {rec2} over to the {rec1}.",
        "The {obj1} from the {rec1} and the {obj2} from the {rec2} should trade places.",
        "Switch the {obj1} from the {rec1} with the {obj2} from the {rec2}.",
        "Could you swap the {obj1} from the {rec1} and the {obj2} from the {rec2}?",
        "Carry the {obj1} from the {rec1} to the {rec2}, then carry the {obj2} from the {rec2} to the {rec1}.",
        "Please exchange the positions of the {obj1} from the {rec1} and the {obj2} from the {rec2}.",
        "I'd like the {obj1} moved from the {rec1} to the {rec2} and the {obj2} moved from the {rec2} to the {rec1}.",
        "Make the {obj1} from the {rec1} and the {obj2} from the {rec2} trade places.",
        "Bring the {obj1} from the {rec1} over to the {rec2}, and bring the {obj2} from the {rec2} over to the {rec1}.",
    ),
    "close_fridge": (
        "Close the fridge.",
        "Shut the fridge.",
        "Please close the fridge door.",
        "The fridge is open; close it.",
        "Could you shut the fridge?",
        "Go to the fridge and close it.",
        "Someone left the fridge open. Please close it.",
        "Make sure the fridge is closed.",
        "Push the fridge door shut.",
        "Close the door of the fridge.",
        "Don't leave the fridge open; close it.",
        "I'd like the fridge closed.",
    ),
    "open_fridge": (
        "Open the fridge.",
        "Please open the fridge.",
        "Could you open the fridge?",
        "Go to the fridge and open it.",
        "Open the fridge door.",
        "Pull the fridge door open.",
        "Make sure the fridge is open.",
        "The fridge is closed; open it.",
        "I'd like the fridge open.",
        "Swing the fridge door open.",
        "Get the fridge open, please.",
        "Open up the door of the fridge.",
    ),
    "go_to": (
        "Go to the {dst}.",
        "Walk over to the {dst}.",
        "Move to the {dst}.",
        "Head to the {dst}.",
        "Navigate to the {dst}.",
        "Please go over to the {dst}.",
        "Could you walk to the {dst}?",
        "Make your way to the {dst}.",
        "Drive to the {dst}.",
        "Go and stand by the {dst}.",
        "Travel to the {dst}.",
        "Get yourself over to the {dst}.",
    ),
    "find": (
        "Find {a_obj}.",
        "Find {a_obj} and pick it up.",
        "Pick up {a_obj}.",
        "Look for {a_obj} and grab it.",
        "Locate {a_obj} and hold it.",
        "Get {a_obj}.",
        "Search for {a_obj} and pick it up.",
        "Could you find {a_obj} and hold on to it?",
        "Grab {a_obj}.",
        "Go find {a_obj} and take it in your gripper.",
        "Please pick up {a_obj}.",
        "Track down {a_obj} and lift it up.",
    ),
}

# --- appearance descriptions (referring_expressions) ------------------------------------

#: category -> descriptions that single it out among all 33 categories without naming it.
#: Each one starts with a consonant sound, so "a " is always the right article for {a_desc}.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "apple": ("round red fruit",),
    "strawberry": ("small red fruit", "small red berry"),
    "lemon": ("round yellow fruit", "sour yellow fruit"),
    "banana": ("curved yellow fruit", "long curved fruit"),
    "pear": ("green fruit",),
    "plum": ("small purple fruit", "purple fruit"),
    "peach": ("round orange-pink fruit",),
    "ball": ("round toy you can throw", "round toy for playing sports"),
    "rubiks cube": ("colorful twisting puzzle", "puzzle toy with colored squares"),
    "lego": ("small plastic building brick", "snap-together plastic brick"),
    "screwdriver": ("tool for turning screws",),
    "hammer": ("tool for driving in nails",),
    "drill": ("power tool for boring holes",),
    "scissors": ("two-bladed tool for cutting paper",),
    "sponge": ("soft scrubbing pad for washing dishes",),
    "cleanser": ("bottle of cleaning liquid",),
    "plate": ("flat dish for serving food",),
    "bowl": ("deep round dish for soup",),
    "spatula": ("flat utensil for flipping pancakes",),
    "padlock": ("lock that opens with a key",),
}

# --- evaluation phrasings ---------------------------------------------------------------

EVAL: dict[str, dict[str, tuple[str, ...]]] = {
    "rephrasing": {
        "move_to": (
            "To the {dst}, please bring {a_obj}.",
            "The {dst} needs {a_obj}, so deliver it there.",
            "At the {dst}, I would like to have {a_obj}.",
            "Deliver {a_obj} to the {dst}.",
            "Relocate {a_obj} to the {dst}.",
            "Could you see that {a_obj} ends up at the {dst}?",
            "Transport {a_obj} over to the {dst}.",
        ),
        "move_from_to": (
            "From the {src}, bring {a_obj} to the {dst}.",
            "To the {dst}, transport {a_obj} from the {src}.",
            "Relocate {a_obj} from the {src} to the {dst}.",
            "The {dst} is where {a_obj} from the {src} should end up.",
            "Retrieve {a_obj} from the {src} and deliver it to the {dst}.",
            "Collect {a_obj} from the {src}, then drop it off at the {dst}.",
        ),
        "move_off": (
            "From the {src}, take away the {obj}.",
            "Relocate the {obj} somewhere other than the {src}.",
            "The {src} should no longer hold the {obj}.",
            "Shift the {obj} to anywhere except the {src}.",
            "Put the {obj} anywhere but the {src}.",
            "Get the {src} cleared of the {obj}.",
        ),
        "two_on": (
            "To the {dst}, bring both {a_obj1} and {a_obj2}.",
            "The {dst} should get {a_obj1} as well as {a_obj2}.",
            "Deliver {a_obj2} along with {a_obj1} to the {dst}.",
            "Transport {a_obj1} plus {a_obj2} over to the {dst}.",
            "At the {dst}, I'd like to find {a_obj1} and {a_obj2}.",
            "Relocate {a_obj1} and {a_obj2} so that both end up at the {dst}.",
        ),
        "swap": (
            "Interchange the {obj1} from the {rec1} and the {obj2} from the {rec2}.",
            "The {rec1} should get the {obj2} from the {rec2}, and the {rec2} should get the {obj1} from the {rec1}.",
            "From the {rec2}, bring the {obj2} to the {rec1}, and from the {rec1}, bring the {obj1} to the {rec2}.",
            "Reverse the locations of the {obj1} from the {rec1} and the {obj2} from the {rec2}.",
            "Let the {obj2} from the {rec2} and the {obj1} from the {rec1} switch places.",
            "Relocate the {obj1} from the {rec1} to the {rec2} and the {obj2} from the {rec2} to the {rec1}.",
        ),
        "close_fridge": (
            "The fridge door needs shutting.",
            "Seal the fridge shut.",
            "Please get that fridge shut.",
            "Kindly swing the fridge door closed.",
            "Could the fridge be closed, please?",
            "The fridge shouldn't be left open, so shut it.",
        ),
        "open_fridge": (
            "The fridge needs to be opened.",
            "Kindly pull open the fridge.",
            "Please get the fridge door open.",
            "Could the fridge be opened?",
            "Crack open the fridge.",
            "The fridge door should be open; see to it.",
        ),
        "go_to": (
            "Proceed to the {dst}.",
            "The {dst} is where you should go now.",
            "Could you make a trip to the {dst}?",
            "Approach the {dst}.",
            "Your destination is the {dst}.",
            "Position yourself next to the {dst}.",
        ),
        "find": (
            "Retrieve {a_obj}.",
            "Seek out {a_obj} and take hold of it.",
            "I want you holding {a_obj}.",
            "Hunt for {a_obj} and pick it up.",
            "Get hold of {a_obj}.",
            "Could you go and collect {a_obj}?",
        ),
    },
    "referring_expressions": {
        "move_to": (
            "Find {a_desc} and take it to the {dst}.",
            "Bring {a_desc} to the {dst}.",
            "Move {a_desc} over to the {dst}.",
            "Pick up {a_desc} and put it at the {dst}.",
            "Could you carry {a_desc} to the {dst}?",
            "I need {a_desc} brought to the {dst}.",
            "Get {a_desc} and leave it at the {dst}.",
        ),
        "move_from_to": (
            "Move {a_desc} from the {src} to the {dst}.",
            "Take {a_desc} from the {src} over to the {dst}.",
            "Pick up {a_desc} from the {src} and bring it to the {dst}.",
            "Could you carry {a_desc} from the {src} to the {dst}?",
            "Grab {a_desc} from the {src} and put it at the {dst}.",
            "Go to the {src}, get {a_desc}, and bring it to the {dst}.",
        ),
    },
    "spatial_relationships": {
        "move_from_to": (
            "Move {a_obj} from the {src} to {dst_ref}.",
            "Take {a_obj} from the {src} and bring it to {dst_ref}.",
            "Pick up {a_obj} from the {src} and put it at {dst_ref}.",
            "Could you carry {a_obj} from the {src} over to {dst_ref}?",
            "Grab {a_obj} from the {src}; it belongs at {dst_ref}.",
            "Bring {a_obj} from the {src} to {dst_ref}, please.",
        ),
        "move_to": (
            "Bring {a_obj} to {dst_ref}.",
            "Find {a_obj} and carry it to {dst_ref}.",
            "Place {a_obj} at {dst_ref}.",
            "Could you take {a_obj} over to {dst_ref}?",
            "I need {a_obj} moved to {dst_ref}.",
        ),
    },
    "context": {
        "sports_equipment": (
            "I feel like playing a game of catch. Bring me something suitable to the {dst}.",
            "The kids want to play a sport outside; put something they can kick around at the {dst}.",
            "I'm in the mood for some sports. Could you bring something to the {dst} that we can play a sport with?",
            "Let's play a game of pitch and catch! Bring what we need to the {dst}.",
            "I want to practice throwing and catching. Leave the right thing for it at the {dst}.",
        ),
        "screw_fixer": (
            "A screw on my desk lamp has come loose. Bring something to the {dst} that I can tighten it with.",
            "There's a loose screw in the door handle; put the right tool for it at the {dst}.",
            "I need to tighten a wobbly screw. Could you take the proper tool to the {dst}?",
            "One of the screws on the bed frame is loose. Leave something I can fix it with at the {dst}.",
        ),
        "paper_cutter": (
            "I have to cut some paper into strips. Bring what I would need for that to the {dst}.",
            "I'm making paper snowflakes and need to cut out the shapes. Please put what I need at the {dst}.",
            "Could you take something to the {dst} for cutting out paper shapes?",
            "This sheet of wrapping paper needs trimming; leave the right tool at the {dst}.",
        ),
        "spill_cleaner": (
            "I knocked over a glass of juice. Bring something to the {dst} that I can wipe it up with.",
            "There's a spill on the floor; put something I can soak it up with at the {dst}.",
            "Some milk got spilled. Could you take something to the {dst} to mop it up with?",
            "I need to clean up a spill, so leave something absorbent at the {dst}.",
        ),
        "hot_drink_vessel": (
            "I just brewed some coffee. Bring something to the {dst} that I can pour it into.",
            "I'm making hot tea and need something to drink it from. Please leave something suitable at the {dst}.",
            "The kettle just boiled. Could you take something to the {dst} that will hold my tea?",
            "I want to drink some hot coffee; put a suitable container for it at the {dst}.",
        ),
    },
    "irrelevant_text": {
        "move_to": (
            "I left {a_other} by the {other_rec} earlier, but don't worry about that. "
            "Please bring {a_obj} to the {dst}.",
            "There might be {a_other} near the {other_rec}; leave it where it is. "
            "Just move {a_obj} to the {dst}.",
            "A friend dropped off {a_other} by the {other_rec} this morning; leave that alone. "
            "What I need is {a_obj} at the {dst}.",
            "You may see {a_other} near the {other_rec}; ignore it, since it's fine where it is. "
            "Take {a_obj} over to the {dst}.",
            "I was going to ask about {a_other} from the {other_rec}, but never mind that. "
            "Could you carry {a_obj} to the {dst}?",
            "There's {a_other} by the {other_rec} that should stay where it is. "
            "The only thing I need is {a_obj} brought to the {dst}.",
            "Yesterday I tidied up the {other_rec} and found {a_other} there, which is fine. "
            "Today, please take {a_obj} to the {dst}.",
        ),
    },
    "multiple_rearrangements": {
        "three_moves": (
            "Move the {obj1} to the {dst1}, the {obj2} to the {dst2}, and the {obj3} to the {dst3}.",
            "Take the {obj1} to the {dst1}, then the {obj2} to the {dst2}, and finally the {obj3} to the {dst3}.",
            "Please bring the {obj1} over to the {dst1}, the {obj2} over to the {dst2}, "
            "and the {obj3} over to the {dst3}.",
            "I'd like the {obj1} at the {dst1}, the {obj2} at the {dst2}, and the {obj3} at the {dst3}.",
            "First carry the {obj1} to the {dst1}; next, carry the {obj2} to the {dst2}; "
            "last, carry the {obj3} to the {dst3}.",
            "Could you put the {obj1} at the {dst1}, the {obj2} at the {dst2}, and the {obj3} at the {dst3}?",
        ),
        "three_on": (
            "Bring {a_obj1}, {a_obj2}, and {a_obj3} to the {dst}.",
            "Move {a_obj1}, {a_obj2}, and {a_obj3} over to the {dst}.",
            "I want {a_obj1}, {a_obj2}, and {a_obj3} all at the {dst}.",
            "Take {a_obj1} to the {dst}, then do the same with {a_obj2} and {a_obj3}.",
            "Could you gather {a_obj1}, {a_obj2}, and {a_obj3} at the {dst}?",
            "The {dst} should end up with {a_obj1}, {a_obj2}, and {a_obj3}.",
        ),
    },
    "multiple_objects": {
        "all_to": (
            "Move all the {objs} to the {dst}.",
            "Bring every one of the {objs} to the {dst}.",
            "Take all of the {objs} over to the {dst}.",
            "Gather up all the {objs} and put them at the {dst}.",
            "Could you collect each of the {objs} and carry them to the {dst}?",
            "Make sure all the {objs} end up at the {dst}.",
        ),
        "all_from_to": (
            "Move all the {objs} from the {src} to the {dst}.",
            "Take every one of the {objs} from the {src} to the {dst}.",
            "Bring all of the {objs} from the {src} over to the {dst}.",
            "Clear all the {objs} from the {src} and put them at the {dst}.",
            "Could you carry each of the {objs} from the {src} to the {dst}?",
        ),
    },
    "conditional_instructions": {
        # Logic everywhere: fridge open -> obj1 to dst1; fridge closed -> obj2 to dst2.
        "if_fridge_open": (
            "If the fridge is open, move {a_obj1} to the {dst1}; otherwise, move {a_obj2} to the {dst2}.",
            "In case the fridge is open, bring {a_obj1} to the {dst1}. "
            "If it is closed, bring {a_obj2} to the {dst2} instead.",
            "Should the fridge be open, take {a_obj1} to the {dst1}; if not, take {a_obj2} to the {dst2}.",
            "Take {a_obj1} to the {dst1} unless the fridge is closed, in which case take {a_obj2} to the {dst2}.",
            "Check the fridge: when it is open, carry {a_obj1} to the {dst1}, "
            "and when it is closed, carry {a_obj2} to the {dst2}.",
            "Move {a_obj2} to the {dst2} if the fridge is closed, but if the fridge is open, "
            "move {a_obj1} to the {dst1} instead.",
        ),
    },
}

#: Minimum number of phrasings per (dataset, concept); "train" stands for TRAIN.
MIN_COUNTS: dict[str, dict[str, int]] = {
    "train": {c: 11 for c in ("move_to", "move_from_to", "move_off", "two_on", "swap",
                              "close_fridge", "open_fridge", "go_to", "find")},
    "rephrasing": {c: 6 for c in ("move_to", "move_from_to", "move_off", "two_on", "swap",
                                  "close_fridge", "open_fridge", "go_to", "find")},
    "referring_expressions": {"move_to": 6, "move_from_to": 6},
    "spatial_relationships": {"move_from_to": 6, "move_to": 4},
    "context": {c: 4 for c in ("sports_equipment", "screw_fixer", "paper_cutter",
                               "spill_cleaner", "hot_drink_vessel")},
    "irrelevant_text": {"move_to": 6},
    "multiple_rearrangements": {"three_moves": 5, "three_on": 5},
    "multiple_objects": {"all_to": 5, "all_from_to": 5},
    "conditional_instructions": {"if_fridge_open": 5},
}

# Words that must not appear in a context phrasing: they would name the implied object.
_CONTEXT_FORBIDDEN: dict[str, frozenset[str]] = {
    "sports_equipment": frozenset({"ball", "balls"}),
    "screw_fixer": frozenset({"screwdriver", "screwdrivers"}),
    "paper_cutter": frozenset({"scissors"}),
    "spill_cleaner": frozenset({"sponge", "sponges"}),
    "hot_drink_vessel": frozenset({"cup", "cups", "mug", "mugs"}),
}

# Sample fills used by check(): awkward cases on purpose (plural-looking names, drawers).
_SAMPLE_FILL: dict[str, str] = {
    "a_obj": "a pair of scissors", "obj": "scissors", "objs": "pairs of scissors",
    "a_obj1": "an apple", "obj1": "apple", "a_obj2": "a rubiks cube", "obj2": "rubiks cube",
    "a_obj3": "a lemon", "obj3": "lemon",
    "src": "cabinet drawer 2", "dst": "fridge", "rec1": "TV stand", "rec2": "fridge",
    "dst1": "left counter", "dst2": "sink", "dst3": "black table",
    "desc": "round red fruit", "a_desc": "a round red fruit",
    "dst_ref": "the receptacle to the right of the left counter",
    "a_other": "a hammer", "other_rec": "sofa",
}

_RECEPTACLE_FIELDS = frozenset({"src", "dst", "rec1", "rec2", "dst1", "dst2", "dst3", "other_rec"})


def normalize(text: str) -> str:
    """Lower-case, punctuation turned into spaces, whitespace collapsed (for duplicate checks)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def fields(phrasing: str) -> set[str]:
    """The placeholder names a phrasing uses."""
    out: set[str] = set()
    for _, name, spec, conv in string.Formatter().parse(phrasing):
        if name is None:
            continue
        assert name.isidentifier(), f"positional or odd field {name!r} in {phrasing!r}"
        assert not spec and conv is None, f"format spec/conversion in {phrasing!r}"
        out.add(name)
    return out


def all_phrasings() -> list[tuple[str, str, str]]:
    """Every phrasing as (dataset, concept, text); TRAIN appears as dataset "train"."""
    rows = [("train", c, p) for c, ps in TRAIN.items() for p in ps]
    rows += [(d, c, p) for d, concepts in EVAL.items() for c, ps in concepts.items() for p in ps]
    return rows


def check() -> None:
    """Assert the invariants of this module; raises AssertionError on the first violation."""
    # counts, and no missing or unexpected concepts
    tables = {"train": TRAIN, **EVAL}
    assert set(tables) == set(MIN_COUNTS), (set(tables), set(MIN_COUNTS))
    for dataset, minimum in MIN_COUNTS.items():
        assert set(tables[dataset]) == set(minimum), (dataset, set(tables[dataset]))
        for concept, n in minimum.items():
            got = len(tables[dataset][concept])
            assert got >= n, f"{dataset}/{concept}: {got} phrasings, need {n}"

    seen: dict[str, tuple[str, str]] = {}
    for dataset, concept, text in all_phrasings():
        where = f"{dataset}/{concept}: {text!r}"
        allowed = placeholders_for(dataset, concept)
        used = fields(text)
        assert used == allowed, f"{where} uses {sorted(used)}, expected {sorted(allowed)}"
        filled = text.format(**_SAMPLE_FILL)  # KeyError/IndexError would surface here
        assert "{" not in filled and "}" not in filled, where
        # sentence shape
        assert text == text.strip() and "  " not in text, f"{where}: stray whitespace"
        assert text[-1] in ".?!", f"{where}: must end with . ? or !"
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            assert sentence[:1].isupper(), f"{where}: sentence must start with a capital letter"
        # articles: never "a {obj}", never "the {a_obj}", receptacle names always after "the"
        assert not re.search(r"\b(a|an|the)\s+\{a_", text, re.I), f"{where}: double article"
        assert not re.search(r"\b(a|an)\s+\{(obj|desc|other_rec|src|dst)", text, re.I), \
            f"{where}: hand-written article before a bare name"
        for name in used & _RECEPTACLE_FIELDS:
            for m in re.finditer(r"\{" + name + r"\}", text):
                assert text[:m.start()].lower().endswith("the "), f"{where}: {{{name}}} needs 'the '"
        assert not re.search(r"\bon the \{(src|dst|rec1|rec2|dst1|dst2|dst3|other_rec)\}", text), \
            f"{where}: 'on the' does not fit the fridge or a drawer"
        # uniqueness across everything (case/punctuation-insensitive); this also ensures
        # that no EVAL phrasing is a TRAIN phrasing up to case and punctuation
        key = normalize(text)
        assert key not in seen, f"{where} duplicates {seen[key]}"
        seen[key] = (dataset, concept)

    # context phrasings must not name the object they imply
    for concept, texts in EVAL["context"].items():
        for text in texts:
            words = set(normalize(text).split())
            bad = words & _CONTEXT_FORBIDDEN[concept]
            assert not bad, f"context/{concept}: {text!r} names {sorted(bad)}"

    # descriptions: 1-3 each, distinct, never containing their own category's name,
    # starting with a consonant so that "a " is the right article
    assert len(DESCRIPTIONS) >= 8
    owner: dict[str, str] = {}
    for category, descs in DESCRIPTIONS.items():
        assert 1 <= len(descs) <= 3, category
        for desc in descs:
            assert desc == desc.strip() and desc[:1].islower(), (category, desc)
            assert desc[0] not in "aeiou", f"{category}: {desc!r} would need 'an'"
            assert desc not in owner, f"{desc!r} used for {owner[desc]} and {category}"
            owner[desc] = category
            words = set(re.split(r"[\s-]+", desc))
            assert not (set(category.split()) & words), f"{category}: {desc!r} names it"
    try:
        from gym_langrearrange.catalog import TRAIN_CATEGORIES
    except ImportError:  # the catalog cross-check is optional when loaded by path
        pass
    else:
        extra = set(DESCRIPTIONS) - set(TRAIN_CATEGORIES)
        assert not extra, f"descriptions for non-training categories: {sorted(extra)}"


if __name__ == "__main__":
    check()
    print("phrasings OK")
