"""gym_langrearrange: the Language Rearrangement benchmark as a Gymnasium environment."""
