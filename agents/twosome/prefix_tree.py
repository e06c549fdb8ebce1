"""Prompts and their action texts packed as prefix trees: every distinct prefix is one position, run once.

TWOSOME scores each valid action's text after its prompt. Prompts of one task share most of their
words (the task's description, the room, what is held), and the texts of one prompt share their first
words ("walk to the ..."). Packing all of them as one tree per sequence, where a token attends to its
ancestors only and its position is its depth, gives every token exactly the hidden state it has in
its own unpacked sequence, while each shared prefix is computed once:

    "You are in the kitchen ..." and "You are in the bedroom ...": "You are in the" once, then two branches
    kitchen prompt + "walk to the bathroom" and + "walk to the sofa": "walk to the" once, then two leaves
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class PrefixForest:
    """Packed trees, one per sequence of the batch (P of them, padded to N nodes)."""

    ids: torch.Tensor  # (P, N) the token of each node; 0 on padding
    positions: torch.Tensor  # (P, N) its depth in its tree (the position id); 0 on padding
    sees: torch.Tensor  # (P, N, N) bool: query node i attends to key node j (j is i or an ancestor)
    pack: list[int]  # per branch, the packed sequence that holds it
    nodes: list[list[int]]  # per branch, the node of each token of prompt + branch, in order


class _Tree:
    def __init__(self) -> None:
        self.children: dict[tuple[int, int], int] = {}  # (parent node, token) -> node
        self.tokens: list[int] = []
        self.parents: list[int] = []
        self.depths: list[int] = []

    def walk(self, start: int, tokens: list[int]) -> list[int]:
        """The nodes of ``tokens`` below node ``start`` (-1: a root), adding the ones that are new."""
        path, node = [], start
        for token in tokens:
            child = self.children.get((node, token))
            if child is None:
                child = len(self.tokens)
                self.children[(node, token)] = child
                self.tokens.append(token)
                self.parents.append(node)
                self.depths.append(self.depths[node] + 1 if node >= 0 else 0)
            path.append(child)
            node = child
        return path

    def ancestors(self, width: int) -> np.ndarray:
        """(width, width) bool: row i marks i and its ancestors; a padding row marks node 0 only."""
        sees = np.zeros((width, width), dtype=bool)
        for i, parent in enumerate(self.parents):  # parents come before their children
            if parent >= 0:
                sees[i] = sees[parent]
            sees[i, i] = True
        sees[len(self.parents):, 0] = True  # a padding query sees one key (its output is never read), not none
        return sees


def pack_prefix_trees(prompts: list[list[int]], branches: list[tuple[int, list[int]]], max_nodes: int,
                      device: torch.device | str = "cpu") -> PrefixForest:
    """Pack ``prompts`` and the ``branches`` that continue them ((prompt index, tokens)) into trees.

    A prompt and its branches go into one tree; a tree takes prompts until the next one could push it
    past ``max_nodes`` (a single larger prompt gets a tree of its own), which bounds the attention's
    N x N work. Give each prompt's branches together: a new tree can start only where the prompt changes.
    """
    trees: list[_Tree] = []
    pack, nodes = [], []
    size_of = {}  # the most nodes each prompt's group can add
    for b, tokens in branches:
        size_of[b] = size_of.get(b, len(prompts[b])) + len(tokens)
    current = -1  # the prompt whose group the last tree holds
    prompt_path: list[int] = []
    for b, tokens in branches:
        if b != current:
            if not trees or (trees[-1].tokens and len(trees[-1].tokens) + size_of[b] > max_nodes):
                trees.append(_Tree())
            prompt_path, current = trees[-1].walk(-1, prompts[b]), b
        tree = trees[-1]
        pack.append(len(trees) - 1)
        nodes.append(prompt_path + tree.walk(prompt_path[-1] if prompt_path else -1, tokens))
    width = max(len(t.tokens) for t in trees)
    ids = torch.tensor([t.tokens + [0] * (width - len(t.tokens)) for t in trees], device=device)
    positions = torch.tensor([t.depths + [0] * (width - len(t.depths)) for t in trees], device=device)
    sees = torch.from_numpy(np.stack([t.ancestors(width) for t in trees])).to(device)
    return PrefixForest(ids, positions, sees, pack, nodes)
