"""Imitation learning on Language Rearrangement: expert demonstrations and behaviour cloning."""
