"""Command line: ``python -m nncore {datasets,presets,train,validate,predict}``."""
from __future__ import annotations

import argparse
import json
import os
import sys

from .config import LR_SCHEDULES, RunConfig, parse_hidden
from .datasets import DATASETS
from .presets import PRESETS, default_config, preset_config
from .text import size_text, without_controls
from .trainer import Diverged, Trainer


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (with where to look), not a usage block."""

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser():
    p = _Parser(prog="python -m nncore", description="Train small NumPy networks and inspect runs.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the datasets")
    sub.add_parser("presets", help="list the presets")
    t = sub.add_parser("train", help="train a network and print progress")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="dataset name (see `datasets`)")
    src.add_argument("--preset", help="preset name (see `presets`)")
    t.add_argument("--hidden", help="hidden layers, e.g. 128,64 or 'conv 8@5x5, pool 2, 64' "
                                    "(empty: none)")
    t.add_argument("--activation", help="activation of every hidden layer")
    t.add_argument("--output-activation", help="activation of the output layer")
    t.add_argument("--loss")
    t.add_argument("--optimizer")
    t.add_argument("--lr", type=float)
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="learning rate per epoch: constant, exponential (x --lr-decay each epoch) "
                        "or cosine (down towards 0 over --epochs)")
    t.add_argument("--lr-decay", type=float, help="factor per epoch of --lr-schedule exponential")
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
    t.add_argument("--resume", metavar="PATH",
                   help="continue the run saved in a training-state file (--epochs N: N more epochs)")
    t.add_argument("--export", metavar="PATH",
                   help="save the training state (.json or .json.gz) when training ends")
    t.add_argument("--readable", action="store_true",
                   help="with --export: nested lists instead of compact base64 arrays")
    keep = t.add_mutually_exclusive_group()
    keep.add_argument("--every", type=int, metavar="K",
                      help="with --export: keep every K-th epoch's weights (default: every epoch)")
    keep.add_argument("--latest", action="store_true",
                      help="with --export: keep only the latest epoch's weights")
    v = sub.add_parser("validate", help="check a training-state file and summarise it")
    v.add_argument("path", help="a training-state file (.json or .json.gz)")
    v.add_argument("--no-data", action="store_true",
                   help="do not rebuild the dataset to check it matches the file")
    v.add_argument("--data-dir", help="folder of the IDX files of a full dataset")
    v.add_argument("--max-mb", type=float, default=200.0, help="size limit in MB (default 200)")
    pr = sub.add_parser("predict", help="classify image files with a saved image-trained network")
    pr.add_argument("--model", required=True, metavar="SNAPSHOT",
                    help="a training-state file (.json or .json.gz) of a network trained on images")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, BMP, TIFF or WebP files")
    pr.add_argument("--epoch", type=int, help="use the weights of this stored epoch (default: the latest)")
    pr.add_argument("--json", action="store_true",
                    help='one JSON object per image: {"file", "label", "probabilities"} or {"file", "error"}')
    return p


def _parse_value(text):
    if len(text) > 4096:
        raise CliError(f"--option value is too long ({len(text):,} characters)")
    try:
        return json.loads(text)
    except ValueError:                 # not JSON (or a number too long for it): the text
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
    n_weighted = sum(not str(h).startswith("pool") for h in hidden)   # pools have no activation
    acts = base["activations"]
    if a.activation or a.output_activation or (acts and len(acts) != n_weighted + 1):
        out = a.output_activation or (acts[-1] if acts else None)
        hid = a.activation or (acts[0] if acts and len(acts) > 1 else "relu")
        if out is None:
            out = "softmax" if base["loss"] == "cross_entropy" else "sigmoid"
        ch["activations"] = [hid] * n_weighted + [out]
    for key in ("loss", "optimizer", "lr", "lr_schedule", "lr_decay", "momentum", "batch_size", "l2",
                "dropout", "epochs", "target_loss", "seed", "dtype"):
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


RESUME_FIXED = ("dataset", "preset", "hidden", "activation", "output_activation", "loss",
                "optimizer", "seed", "dtype", "option")
RESUME_SOFT = ("lr", "lr_schedule", "lr_decay", "momentum", "l2", "dropout", "target_loss")


def _export_choice(a):
    if a.every is not None and a.every < 1:
        raise CliError(f"--every must be a whole number >= 1, got {a.every}")
    if not a.export and (a.readable or a.every is not None or a.latest):
        raise CliError("--readable, --every and --latest need --export PATH")
    return "latest" if a.latest else (a.every or "all")


def _resume_trainer(a):
    from . import snapshot
    fixed = [f"--{k.replace('_', '-')}" for k in RESUME_FIXED if getattr(a, k) not in (None, [])]
    if fixed:
        soft = [f"--{k.replace('_', '-')}" for k in (*RESUME_SOFT, "batch_size", "batch")]
        raise CliError(f"--resume continues the saved run as it was; {', '.join(fixed)} cannot change "
                       f"it (soft settings can: {', '.join(soft)})")
    if a.epochs is not None and a.epochs < 1:
        raise CliError(f"--epochs must be a whole number >= 1, got {a.epochs}")
    try:
        trainer = snapshot.load(a.resume).to_trainer(data_dir=a.data_dir)
    except snapshot.SnapshotError as exc:
        raise CliError(f"{a.resume}: {exc}") from None
    changes = {k: getattr(a, k) for k in RESUME_SOFT if getattr(a, k) is not None}
    if a.batch:
        changes["batch"] = a.batch
    elif a.batch_size is not None:
        changes.update(batch="mini", batch_size=a.batch_size)
    if a.epochs is None and trainer.epoch >= trainer.config.epochs:
        raise CliError(f"the run in {a.resume} has trained its {trainer.config.epochs} epochs; "
                       "say how many more with --epochs N")
    # config.epochs stays: it is the length of the run's learning-rate schedule (cosine), which
    # goes on as it was; --epochs N only says how many more epochs to train now
    trainer.update_settings(**changes)
    until = trainer.epoch + a.epochs if a.epochs is not None else trainer.config.epochs
    return trainer, until


def _check_export_path(path):
    """Refuse an export path that cannot be written, before any training."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CliError(f"--export {path}: is a folder; give a file name (.json or .json.gz)")
    if not os.path.isdir(folder):
        raise CliError(f"--export {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise CliError(f"--export {path}: cannot write there (permission denied)")


class _Interrupted(BaseException):
    """SIGTERM while training (Ctrl-C is KeyboardInterrupt)."""


def _finished(trainer, until):
    cfg, last = trainer.config, trainer.records[-1]
    return (trainer.epoch >= until or trainer.stop_reason is not None
            or (cfg.target_loss is not None and trainer.epoch > 0 and last.train_loss <= cfg.target_loss))


def _completed(trainer):
    """What the next epoch starts from, to go back to if an epoch is cut short."""
    net = trainer.network
    return (trainer.epoch, trainer.iterations, net.params.copy(), net.grads.copy(),
            trainer.optimizer.state_dict(), trainer.rng.bit_generator.state)


def _back_to(trainer, saved):
    """Undo a cut-short epoch: the run as it was at the end of its last completed one."""
    epoch, iterations, params, grads, opt, rng = saved
    if trainer.epoch == epoch + 1 and len(trainer.records) == epoch + 2:
        return                              # the epoch had completed after all
    net = trainer.network
    net.params[...], net.grads[...] = params, grads
    trainer.optimizer.load_state_dict(opt)
    trainer.rng.bit_generator.state = rng
    trainer.epoch, trainer.iterations = epoch, iterations
    del trainer.records[epoch + 1:]
    trainer.history.truncate(epoch)
    trainer.history.add(epoch, params, grads)


def _train(trainer, until, as_json):
    """Train to ``until``; returns None, or the signal's name if Ctrl-C or SIGTERM cut it short
    (the run is then as it was after its last completed epoch)."""
    import signal

    def on_term(signum, frame):
        raise _Interrupted()
    old = _set_signal(signal.SIGTERM, on_term)
    saved = _completed(trainer)
    try:
        while not _finished(trainer, until):
            rec = trainer.run_epoch()
            saved = _completed(trainer)
            _print_epoch(rec, until, as_json)
    except (KeyboardInterrupt, _Interrupted) as exc:
        _back_to(trainer, saved)
        return "SIGTERM" if isinstance(exc, _Interrupted) else "Ctrl-C"
    finally:
        if old is not None:
            _set_signal(signal.SIGTERM, old)
    return None


def _set_signal(sig, handler):
    """``signal.signal``, or None where signals cannot be set (not the main thread)."""
    import signal
    try:
        return signal.signal(sig, handler)
    except (ValueError, OSError):
        return None


def cmd_train(a):
    keep = _export_choice(a)
    if a.export:
        _check_export_path(a.export)
    if a.resume:
        trainer, until = _resume_trainer(a)
        cfg = trainer.config
    else:
        cfg = config_from_args(a)
        until = cfg.epochs
        try:
            trainer = Trainer(cfg)
        except MemoryError:
            raise CliError(f"not enough memory for this network and data ({cfg.dataset}, hidden "
                           f"layers {cfg.hidden}): choose smaller layers") from None
    if not a.json:
        net = trainer.network
        start = f", resumed at epoch {trainer.epoch} from {a.resume}" if a.resume else ""
        print(f"{cfg.dataset}: {net.sizes} {net.activations}, {net.n_params:,} parameters, "
              f"{cfg.optimizer} {cfg.lr_text()}, batch {cfg.batch}"
              f"{'' if cfg.batch != 'mini' else ' ' + str(cfg.batch_size)}, {until} epochs{start}",
              flush=True)
    code = 0
    try:
        stopped = _train(trainer, until, a.json)
    except Diverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        code, stopped = 3, None
    if stopped:
        code = 130 if stopped == "Ctrl-C" else 143
        print(f"{stopped}: stopped during epoch {trainer.epoch + 1}; the run is kept at epoch "
              f"{trainer.epoch}, its last completed epoch"
              + ("" if a.export else " (nothing is saved without --export PATH)"),
              file=sys.stderr, flush=True)
    if a.export:
        _export(trainer, a, keep)
    return code


def _export(trainer, a, keep):
    """Save the run (atomically: snapshot.save), with Ctrl-C and SIGTERM held off meanwhile."""
    import signal

    from . import snapshot
    held = {s: _set_signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        size = snapshot.save(trainer, a.export, epochs=keep, readable=a.readable)
    except OSError as exc:
        raise CliError(f"cannot write {a.export}: {exc.strerror or exc}") from None
    finally:
        for s, handler in held.items():
            if handler is not None:
                _set_signal(s, handler)
    print(f"saved the training state at epoch {trainer.epoch} to {a.export} ({size_text(size)})",
          file=sys.stderr if a.json else sys.stdout, flush=True)


def cmd_validate(a):
    from . import snapshot
    if not 0 < a.max_mb <= 100_000:
        raise CliError(f"--max-mb must be more than 0 and at most 100000, got {a.max_mb}")
    try:
        snap = snapshot.load(a.path, max_bytes=int(a.max_mb * 2**20))
    except snapshot.SnapshotError as exc:
        print(without_controls(f"invalid: {a.path}: {exc}"), file=sys.stderr)
        return 1
    print(f"OK: {without_controls(a.path)}: {snap.describe()}")
    if a.no_data:
        print("data: not checked (--no-data)")
        return 0
    try:
        snap.build_data(data_dir=a.data_dir)
    except snapshot.SnapshotError as exc:
        print(f"cannot load here: {exc}", file=sys.stderr)
        return 1
    print(f"data: {snap.config.dataset} rebuilt from the config matches the file ({snap.fingerprint[:23]}...)")
    return 0


def cmd_predict(a):
    """Exit 0 if every image was read, 1 if some were not; a bad model file is exit 2."""
    from . import predict, snapshot
    from .images import ImageError, preprocess_image
    try:
        snap = snapshot.load(a.model)
        spec = predict.image_input_of_snapshot(snap)
        net = predict.network_from_snapshot(snap)
    except (snapshot.SnapshotError, ValueError) as exc:
        raise CliError(f"{a.model}: {exc}") from None
    if a.epoch is not None:
        stored = {s["epoch"]: s["params"] for s in snap.states}
        if a.epoch not in stored:
            raise CliError(f"--epoch {a.epoch}: the file stores the weights of epochs "
                           f"{', '.join(map(str, sorted(stored)))}")
        net.params[...] = stored[a.epoch]
    items = []
    for path in a.images:
        try:
            with open(path, "rb") as f:
                data = f.read(predict.MAX_IMAGE_BYTES + 1)
        except OSError as exc:
            items.append((path, ImageError(f"cannot read the file: {exc.strerror or exc}")))
            continue
        try:
            items.append((path, preprocess_image(data, spec.fmt)))
        except ImageError as exc:
            items.append((path, exc))
    failed = 0
    for r in predict.predict_preprocessed(net, items, spec):
        if not r.ok:
            failed += 1
            if a.json:
                print(json.dumps({"file": r.name, "error": r.error}), flush=True)
            else:
                print(without_controls(f"{r.name}: error: {r.error}"), file=sys.stderr, flush=True)
            continue
        best = r.top(3)
        if a.json:
            print(json.dumps({"file": r.name, "label": spec.class_names[best[0][0]],
                              "probabilities": {n: round(float(p), 6)
                                                for n, p in zip(spec.class_names, r.probs)}}),
                  flush=True)
        else:
            guesses = ", then ".join(f"{spec.class_names[c]} ({p:.1%})" for c, p in best if p >= 0.005)
            print(without_controls(f"{r.name}: {guesses}"), flush=True)   # one line per file
    return 1 if failed else 0


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
        elif a.command == "validate":
            return cmd_validate(a)
        elif a.command == "predict":
            return cmd_predict(a)
    except (ValueError, CliError) as exc:
        print(without_controls(f"error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:               # e.g. `... | head`: the reader left; say nothing
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except MemoryError:
        print("error: out of memory: choose a smaller network or dataset", file=sys.stderr)
        return 2
    except Exception as exc:              # never a traceback: one line saying what failed
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
