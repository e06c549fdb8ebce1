"""Environment speed benchmark; same as ``python -m gym_langrearrange.benchmark``."""
from gym_langrearrange.benchmark import main

if __name__ == "__main__":
    main()
