"""Lenient plan parsing on a corpus of messy LLM answers, and the prompt's contents."""
import pytest

from agents.zero_shot.parsing import ParsedStep, parse_plan, plan_complete
from agents.zero_shot.prompt import EXAMPLES, SYSTEM_PROMPT, build_messages, feedback_message
from gym_langrearrange.catalog import CATEGORIES, RECEPTACLES
from gym_langrearrange.skills import SKILL_CATALOG

# (answer, expected steps: skill text, or "?" for an unparseable step)
CORPUS = [
    # the answer format the prompt asks for
    ("navigate(black table)\npick(apple)\nnavigate(sofa)\nplace(sofa)\nstop",
     ["navigate(black table)", "pick(apple)", "navigate(sofa)", "place(sofa)", "stop"]),
    # case and spaces
    ("Navigate( Left   Counter )\nPICK(Apple)\nnavigate (tv stand)\nPlace(TV Stand)\nStop",
     ["navigate(left counter)", "pick(apple)", "navigate(TV stand)", "place(TV stand)", "stop"]),
    # quotes of every kind
    ("navigate(\"left counter\")\npick('apple')\nnavigate(`sofa`)\nplace(\u201csofa\u201d)",
     ["navigate(left counter)", "pick(apple)", "navigate(sofa)", "place(sofa)"]),
    # the original release's skill names, one line with commas (paper style)
    ("navigate(left counter), pick(screwdriver), navigate(sofa), place_on_recep(sofa), STOP.",
     ["navigate(left counter)", "pick(screwdriver)", "navigate(sofa)", "place(sofa)", "stop"]),
    ("navigate(fridge), open_fridge(), pick(apple), close_fridge(), navigate(brown table), "
     "place_on_recep(brown table), STOP",
     ["navigate(fridge)", "open(fridge)", "pick(apple)", "close(fridge)", "navigate(brown table)",
      "place(brown table)", "stop"]),
    ("open_cabinet(cabinet drawer 2)\nopen_drawer(cabinet drawer 3)\nclose_cabinet('cabinet drawer 2')",
     ["open(cabinet drawer 2)", "open(cabinet drawer 3)", "close(cabinet drawer 2)"]),
    ("nav(sink)\ngo_to(chair)\ngoto(shelf)\nmove_to(sofa)\nwalk_to(fridge)",
     ["navigate(sink)", "navigate(chair)", "navigate(shelf)", "navigate(sofa)", "navigate(fridge)"]),
    ("pick_up(bowl)\ngrab(cup)\nput(sink)\ndrop(shelf)\ndone",
     ["pick(bowl)", "pick(cup)", "place(sink)", "place(shelf)", "stop"]),
    # Python list with comments, as in the paper's ChatGPT examples
    ('plan = [\n    navigate("cabinet drawer 4"), # exploring an unvisited receptacle\n'
     '    open_cabinet("cabinet drawer 4"), # opening it for the first time\n    pick("apple"),\n'
     '    navigate("left counter"),\n    place_on_recep("left counter"),\n    STOP\n]',
     ["navigate(cabinet drawer 4)", "open(cabinet drawer 4)", "pick(apple)", "navigate(left counter)",
      "place(left counter)", "stop"]),
    # a code fence with prose around it
    ("Sure! Here is the plan:\n```python\nplan = [\n  navigate(\"sink\"),\n  pick(\"sponge\"),\n"
     "  navigate(\"chair\"),\n"
     "  place_on_recep(\"chair\"),\n  STOP\n]\n```\nThis moves the sponge to the chair.",
     ["navigate(sink)", "pick(sponge)", "navigate(chair)", "place(chair)", "stop"]),
    ("```\nnavigate(shelf)\npick(book)\n```", ["navigate(shelf)", "pick(book)"]),
    # an unclosed fence (the answer was cut by the token limit)
    ("Plan:\n```\nnavigate(shelf)\npick(book)\nnavigate(sofa)\npla",
     ["navigate(shelf)", "pick(book)", "navigate(sofa)", "?"]),
    # numbered and bulleted lists
    ("1. navigate(sofa)\n2. pick(ball)\n3. navigate(chair)\n4. place(chair)\n5. stop",
     ["navigate(sofa)", "pick(ball)", "navigate(chair)", "place(chair)", "stop"]),
    ("- navigate(sofa)\n* pick(ball)\n\u2022 navigate(chair)\n+ place(chair)",
     ["navigate(sofa)", "pick(ball)", "navigate(chair)", "place(chair)"]),
    ("Step 1: navigate(sink)\nStep 2: pick(knife)\nStep 3: stop", ["navigate(sink)", "pick(knife)", "stop"]),
    ("1) `navigate(sink)`\n2) **pick(knife)**\n3) stop()", ["navigate(sink)", "pick(knife)", "stop"]),
    # list items written as sentences
    ("To do this, follow these steps:\n1. Navigate to the left counter.\n2. Pick up the apple.\n3. Go to the sofa\n"
     "4. Place the apple on the sofa.\n5. Stop.\nThis plan works because the apple is on the left counter.",
     ["navigate(left counter)", "pick(apple)", "navigate(sofa)", "place(sofa)", "stop"]),
    ("1. Open the fridge.\n2. Take the lemon from the fridge.\n3. Put it on the black table.",
     ["open(fridge)", "pick(lemon)", "place(black table)"]),
    # SmolLM2-135M, as seen: loops and arguments of the wrong kind
    ("navigate(fridge)\npick(lemon)\npick(padlock)\npick(fridge)\npick(fridge)\npick(fridge)",
     ["navigate(fridge)", "pick(lemon)", "pick(padlock)", "?", "?", "?"]),
    ("pick(bowl)\npick(lemon)\npick(pick)\npick(pick)", ["pick(bowl)", "pick(lemon)", "?", "?"]),
    ("pick(sink)\npick(pickle)\npick(slippery)", ["?", "?", "?"]),
    # SmolLM2-135M, as seen: rambling sentences, a numbered list with steps we cannot read
    ("1. Place a cup in the fridge.\n2. Open the fridge.\n3. Place the cup in the fridge.\n4. Remove the cup.\n"
     "5. Put the cup back in the fridge.\n6. End the plan with stop.\n\nThe plan is to put a cup in the fridge.",
     ["place(fridge)", "open(fridge)", "place(fridge)", "?", "place(fridge)", "?"]),
    ("I'm sorry for your loss. I'm here to help you with whatever you need. To get the apple from the sofa to the "
     "sink, I'll need to bring it to the sink. I'll bring the apple to the sink.", []),
    ("Bring the apple to the sink.", []),
    # the model goes on to imagine the next turn
    ("navigate(sofa)\npick(apple)\nUser: Feedback: Could not pick apple.\nAssistant: navigate(chair)",
     ["navigate(sofa)", "pick(apple)"]),
    ("# Assistant: navigate(left counter), pick(screwdriver), navigate(sofa), place_on_recep(sofa), STOP.\n"
     "# User: Instruction: Find an apple.", ["navigate(left counter)", "pick(screwdriver)", "navigate(sofa)",
                                             "place(sofa)", "stop"]),
    # skills inside a sentence
    ("I will navigate(sofa) and then pick(apple), after that navigate(sink) and place(sink).",
     ["navigate(sofa)", "pick(apple)", "navigate(sink)", "place(sink)"]),
    ("navigate(sofa) -> pick(apple) -> navigate(sink) -> place(sink)",
     ["navigate(sofa)", "pick(apple)", "navigate(sink)", "place(sink)"]),
    # things the world does not have, skills the env does not have
    ("pick(unicorn)\nnavigate(garage)\nplace(cabinet drawer 1)\nopen(sofa)\nfly(sofa)\nnavigate()",
     ["?", "?", "?", "?", "?", "?"]),
    # instances, plurals, aliases and keyword arguments
    ("pick(red apple)\npick(apples)\npick(knives)\npick(rubik's cube)\npick(rubrik's cube)\npick(toy plane)",
     ["pick(apple)", "pick(apple)", "pick(knife)", "pick(rubiks cube)", "pick(rubiks cube)", "pick(toy airplane)"]),
    ("navigate(couch)\nnavigate(refrigerator)\nopen(drawer 3)\nnavigate(cabinet_drawer_1)\nnavigate(the TV)",
     ["navigate(sofa)", "navigate(fridge)", "open(cabinet drawer 3)", "navigate(cabinet drawer 1)",
      "navigate(TV stand)"]),
    ("pick(object='apple')\nplace(receptacle=\"sink\")\nplace(apple, sofa)\npick(apple, fridge)",
     ["pick(apple)", "place(sink)", "place(sofa)", "pick(apple)"]),
    # argument-less place/open/close act where the plan last navigated to
    ("navigate(fridge)\nopen()\npick(milk)\nnavigate(sink)\nplace_on_recep()",
     ["navigate(fridge)", "open(fridge)", "?", "navigate(sink)", "place(sink)"]),
    # the plan ends at its first stop
    ("navigate(sofa)\nstop\nnavigate(sink)\npick(apple)", ["navigate(sofa)", "stop"]),
    # reasoning models' thoughts are skipped; special tokens end the turn
    ("<think>maybe navigate(sink) first?</think>\nnavigate(shelf)\npick(lego)",
     ["navigate(shelf)", "pick(lego)"]),
    ("navigate(shelf)<|im_end|>\n<|im_start|>user\nnavigate(sink)", ["navigate(shelf)"]),
    # semicolons, trailing punctuation, markdown, numbers in names
    ("navigate(cabinet drawer 2); open(cabinet drawer 2); pick(spoon);", ["navigate(cabinet drawer 2)",
                                                                          "open(cabinet drawer 2)", "pick(spoon)"]),
    ("**Plan:**\n\n1. `navigate(\"brown table\")`,\n2. `pick(\"strawberry\")`,\n3. `STOP`",
     ["navigate(brown table)", "pick(strawberry)", "stop"]),
    # nothing at all
    ("", []),
    ("   \n\n ", []),
]


@pytest.mark.parametrize("answer,expected", CORPUS)
def test_corpus(answer, expected):
    steps = parse_plan(answer)
    assert [s.text if s.ok else "?" for s in steps] == expected, [s.text for s in steps]


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 30


def test_unparseable_steps_keep_their_raw_text():
    steps = parse_plan("- pick(unicorn)\n- navigate(sofa)")
    assert steps[0] == ParsedStep(None, "pick(unicorn)")
    assert not steps[0].ok and "unicorn" in steps[0].text
    assert steps[1].skill == SKILL_CATALOG.id("navigate(sofa)")
    assert steps[0].to_json() == {"skill": None, "raw": "pick(unicorn)"}


@pytest.mark.parametrize("junk", [None, 42, "(((", ")))", "pick(", "navigate(sofa", "\x00\x01", "[" * 50,
                                  "pick(" * 30 + ")" * 30, "a(b(c(d)))", "#" * 100])
def test_never_raises(junk):
    steps = parse_plan(junk)
    assert isinstance(steps, list)


def test_max_steps():
    assert len(parse_plan("navigate(sofa)\n" * 100, max_steps=32)) == 32


def test_every_skill_text_parses_to_itself():
    for i in range(len(SKILL_CATALOG)):
        assert [s.skill for s in parse_plan(SKILL_CATALOG.text(i))] == [i]


def test_plan_complete():
    assert not plan_complete("navigate(sofa)")
    assert not plan_complete("navigate(sofa)\npick(apple)\n")
    assert plan_complete("navigate(sofa)\nstop\n")
    assert plan_complete("plan = [\n  navigate(sofa),\n  STOP\n")
    assert plan_complete("plan = [\n  navigate(sofa),\n]\n")
    assert plan_complete("pick(lemon)\npick(lemon)\npick(lemon)\n")
    assert plan_complete("navigate(sofa)\nUser: what now?\n")


def test_prompt_lists_everything():
    for name in RECEPTACLES + CATEGORIES:
        assert name in SYSTEM_PROMPT
    for form in ("navigate(", "pick(", "place(", "open(", "close(", "stop"):
        assert form in SYSTEM_PROMPT
    # the worked examples are valid plans in our own format
    for role, text in EXAMPLES:
        if role == "assistant":
            steps = parse_plan(text)
            assert steps and all(s.ok for s in steps) and steps[-1].text == "stop"
    messages = build_messages("Bring the apple to the sofa.")
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user",
                                                                 "content": "Instruction: Bring the apple to the sofa."}
    assert [m["role"] for m in messages[1:-1]] == [r for r, _ in EXAMPLES]


def test_prompt_is_compact():
    from agents.nn.llm import load_tokenizer
    from agents.zero_shot.prompt import prompt_token_count

    assert prompt_token_count(load_tokenizer("smollm2-135m")) < 700


def test_feedback_message():
    msg = feedback_message(["You are now at the sofa.", "Could not pick apple: no apple is visible here."], "sofa",
                           None, ["chair", "fridge"])
    assert "Could not pick apple" in msg and "You are at the sofa, holding nothing." in msg
    assert "Not visited yet: chair, fridge." in msg and msg.endswith("Write a new plan.")
    msg = feedback_message([], None, "apple", [], note="Your plan has ended, but the task is not done yet.")
    assert "not at any receptacle, holding the apple" in msg and "visited every receptacle" in msg
