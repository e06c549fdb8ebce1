"""placeholder"""
import numpy as np
def render_topdown(state, size=512):
    return np.zeros((size, size, 3), np.uint8)
