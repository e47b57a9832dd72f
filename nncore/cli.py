"""Command line: ``python -m nncore {datasets,presets,train}``."""
from __future__ import annotations

import argparse
import json
import sys

from .config import RunConfig, parse_hidden
from .datasets import DATASETS
from .presets import PRESETS, default_config, preset_config
from .trainer import Diverged, Trainer


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _parser():
    p = argparse.ArgumentParser(prog="python -m nncore",
                                description="Train small NumPy networks and inspect runs.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the datasets")
    sub.add_parser("presets", help="list the presets")
    t = sub.add_parser("train", help="train a network and print progress")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="dataset name (see `datasets`)")
    src.add_argument("--preset", help="preset name (see `presets`)")
    t.add_argument("--hidden", help="hidden layer sizes, e.g. 128,64 (empty: none)")
    t.add_argument("--activation", help="activation of every hidden layer")
    t.add_argument("--output-activation", help="activation of the output layer")
    t.add_argument("--loss")
    t.add_argument("--optimizer")
    t.add_argument("--lr", type=float)
    t.add_argument("--momentum", type=float)
    bs = t.add_mutually_exclusive_group()
    bs.add_argument("--batch-size", type=int)
    bs.add_argument("--batch", choices=("full", "online", "mini"))
    t.add_argument("--l2", type=float)
    t.add_argument("--dropout", type=float)
    t.add_argument("--epochs", type=int)
    t.add_argument("--target-loss", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--dtype", choices=("float32", "float64"))
    t.add_argument("--data-dir", help="folder of the IDX files of a full dataset")
    t.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a dataset option, e.g. noise=0.2 (repeatable)")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    return p


def _parse_value(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_from_args(a) -> RunConfig:
    """Build the run's config from parsed ``train`` arguments."""
    if a.preset:
        base = preset_config(a.preset).to_dict()
    else:
        base = default_config(a.dataset or "moons").to_dict()
    ch = {}
    opts = dict(base["dataset_options"]) if a.preset else {}
    if a.dataset and not a.preset:
        opts = dict(default_config(a.dataset).dataset_options)
    for item in a.option:
        if "=" not in item:
            raise CliError(f"--option must look like KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        opts[k.strip()] = _parse_value(v.strip())
    if a.data_dir:
        opts["data_dir"] = a.data_dir
    ch["dataset_options"] = opts
    if a.hidden is not None:
        ch["hidden"] = parse_hidden(a.hidden)
    hidden = ch.get("hidden", base["hidden"])
    acts = base["activations"]
    if a.activation or a.output_activation or (acts and len(acts) != len(hidden) + 1):
        out = a.output_activation or (acts[-1] if acts else None)
        hid = a.activation or (acts[0] if acts and len(acts) > 1 else "relu")
        if out is None:
            out = "softmax" if base["loss"] == "cross_entropy" else "sigmoid"
        ch["activations"] = [hid] * len(hidden) + [out]
    for key in ("loss", "optimizer", "lr", "momentum", "batch_size", "l2", "dropout", "epochs",
                "target_loss", "seed", "dtype"):
        value = getattr(a, key)
        if value is not None:
            ch[key] = value
    if a.batch:
        ch["batch"] = a.batch
    elif a.batch_size is not None:
        ch["batch"] = "mini"
    return RunConfig.from_dict({**base, **ch})


def _print_epoch(rec, total, as_json):
    if as_json:
        print(json.dumps(rec.to_dict()), flush=True)
    else:
        print(f"epoch {rec.epoch:>4}/{total}  train loss {rec.train_loss:.5g}  acc {rec.train_acc:.3f}"
              f"  test loss {rec.test_loss:.5g}  acc {rec.test_acc:.3f}  {rec.seconds:.2f}s"
              f"  {rec.samples_per_s:,.0f} samples/s", flush=True)


def cmd_train(a):
    cfg = config_from_args(a)
    trainer = Trainer(cfg)
    if not a.json:
        net = trainer.network
        print(f"{cfg.dataset}: {net.sizes} {net.activations}, {net.n_params:,} parameters, "
              f"{cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch}"
              f"{'' if cfg.batch != 'mini' else ' ' + str(cfg.batch_size)}, {cfg.epochs} epochs",
              flush=True)
    try:
        while not trainer.done:
            _print_epoch(trainer.run_epoch(), cfg.epochs, a.json)
    except Diverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


def main(argv=None):
    parser = _parser()
    a = parser.parse_args(argv)
    try:
        if a.command == "datasets":
            for name, spec in DATASETS.items():
                print(f"{name:16} {spec.kind:7} {spec.description}")
        elif a.command == "presets":
            for name, p in PRESETS.items():
                print(f"{name:22} {p['description']}")
        elif a.command == "train":
            return cmd_train(a)
    except (ValueError, CliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
