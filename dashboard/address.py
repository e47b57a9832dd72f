"""The run's setup in the address bar, and lesson links, as plain query parameters.

``/?dataset=spiral&hidden=8,8&lr=0.03&seed=7``: the keys are the command line's long options
(``python -m nncore train --help``), dataset options go by their own names (``noise``,
``features``, ...), and only values that differ from the defaults appear: the defaults of the
preset named by ``preset``, else those of the dataset (``nncore.presets.default_config``).

Lesson flags ride along: ``hide`` (setting names, or ``sidebar``), ``page`` (the page the
link opens on), ``title`` and ``note`` (plain text). ``run`` belongs to the run store and
is passed through untouched; ``embed`` and ``embed_options`` are Streamlit's own.

:func:`read` turns query parameters into a :class:`Link` and never raises: every key it
cannot use is listed in ``Link.problems`` (key, why) and left at its default.
:func:`setup_params` is the other way round. No Streamlit here: the app wires these to
``st.query_params`` (``dashboard/links.py``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from nncore import RunConfig, parse_hidden
from nncore.conv import layer_kind
from nncore.datasets import DATASETS, PATH_OPTIONS, get_spec
from nncore.presets import PRESETS, default_config, preset_config
from nncore.text import without_controls

RUN_KEY = "run"                                   # the run store's token (issue of its own)
STREAMLIT_KEYS = ("embed", "embed_options")
LESSON_KEYS = ("hide", "page", "title", "note")
PAGES = ("train", "weights", "predictions", "snapshots", "compare", "lessons")

# Settings, in the order they are read and written: query key -> RunConfig field
# (``activation`` and ``output_activation`` are the layers' activations).
SETTINGS = ("dataset", "preset", "hidden", "activation", "output_activation", "loss",
            "optimizer", "lr", "lr_schedule", "lr_decay", "momentum", "beta1", "beta2", "batch",
            "batch_size", "l2", "dropout", "epochs", "seed", "init", "biases", "shuffle",
            "passes_per_epoch", "target_loss", "dtype")
FIELD_SETTINGS = tuple(k for k in SETTINGS if k not in ("dataset", "preset", "hidden", "activation",
                                                        "output_activation"))
OPTION_KEYS = tuple(dict.fromkeys(k for spec in DATASETS.values() for k in spec.options))
SIDEBAR = "sidebar"                               # hide=sidebar hides all of it

MAX_VALUE = 200          # characters of a setting's value (a long hidden list fits)
MAX_TITLE = 120
MAX_NOTE = 1000
MAX_NAME = 40            # characters of an offending key shown in the notice
MAX_PROBLEMS = 12        # offending keys named one by one (the rest are counted)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass
class Link:
    """What a link asks for. ``config`` is always a valid RunConfig (the defaults where the
    link was unusable); ``problems`` lists ``(key, why)`` for every key that was not used."""

    config: RunConfig
    preset: str | None = None
    used: list = field(default_factory=list)      # setting keys taken from the link
    hide: list = field(default_factory=list)      # setting names, or ["sidebar"]
    page: str | None = None
    title: str = ""
    note: str = ""
    run: str | None = None
    problems: list = field(default_factory=list)

    @property
    def lesson(self) -> dict:
        """The lesson flags to keep in the address while the setup changes."""
        out = {}
        if self.hide:
            out["hide"] = ",".join(self.hide)
        if self.page:
            out["page"] = self.page
        if self.title:
            out["title"] = self.title
        if self.note:
            out["note"] = self.note
        return out


# -- values to text and back ------------------------------------------------------------------
def number_text(v) -> str:
    """The shortest text that reads back as the same number: ``0.03``, ``1``, ``1e-05``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def value_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return number_text(v)
    if v is None:
        return "none"
    return str(v)


def _bool(text):
    t = text.lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _number(text, kind):
    if not _NUMBER.fullmatch(text) or len(text) > 40:
        raise ValueError(f"must be a number, got {text!r}")
    if kind is int:
        if not re.fullmatch(r"\+?\d{1,19}", text):
            raise ValueError(f"must be a whole number, got {text!r}")
        return int(text)
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {text!r}")
    return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v


def _field_value(name, text):
    """A RunConfig field's value parsed from its text (range checks are RunConfig's)."""
    default = RunConfig.__dataclass_fields__[name].default
    if name == "target_loss":
        return None if text.lower() in ("none", "0", "") else float(_number(text, float))
    if isinstance(default, bool):
        return _bool(text)
    if isinstance(default, int):
        return _number(text, int)
    if isinstance(default, float):
        return float(_number(text, float))
    return text


def _option_value(opt, text):
    if isinstance(opt.default, bool):
        return _bool(text)
    if isinstance(opt.default, int):
        return _number(text, int) if not text.startswith("-") else -_number(text[1:], int)
    if isinstance(opt.default, float):
        return float(_number(text, float))
    return text


def _plain(text, limit):
    """``text`` as a setting's value: printable ASCII within ``limit``, else ValueError."""
    if len(text) > limit:
        raise ValueError(f"is {len(text):,} characters long (at most {limit})")
    if not text.isascii() or without_controls(text) != text or any(c in text for c in "<>\"'`"):
        raise ValueError("holds characters no setting uses")
    return text.strip()


def key_text(key) -> str:
    """An offending key as the notice names it: no control characters, at most MAX_NAME."""
    k = without_controls(key)
    return k if len(k) <= MAX_NAME else k[:MAX_NAME - 1] + "…"


# -- reading a link -----------------------------------------------------------------------------
def _guess_out(cfg: RunConfig) -> list:
    """The layers' default activations without building the data (logic sets have 0/1 outputs)."""
    return cfg.layer_activations(1 if get_spec(cfg.dataset).kind == "logic" else 2)


def read(params, allow_paths=True) -> Link:
    """The Link that query parameters ``params`` ask for (a mapping of key -> text, or of
    key -> list of texts: the last one counts). Never raises."""
    values = {}
    for key, value in dict(params).items():
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else ""
        values[str(key)] = str(value)
    problems = []

    def bad(key, why):
        problems.append((key_text(key), why))

    known = set(SETTINGS) | set(OPTION_KEYS) | set(LESSON_KEYS) | {RUN_KEY, *STREAMLIT_KEYS}
    texts = {}
    for key, value in values.items():
        if key not in known:
            bad(key, "unknown setting")
        elif key in ("title", "note", RUN_KEY, *STREAMLIT_KEYS):
            texts[key] = value
        else:
            try:
                texts[key] = _plain(value, MAX_VALUE)
            except ValueError as exc:
                bad(key, str(exc))
    link = Link(config=default_config("moons"), problems=problems, run=texts.get(RUN_KEY))
    _read_lesson(link, texts, bad)

    # the base: a preset, or a dataset's defaults
    preset, base = None, None
    if "preset" in texts:
        if texts["preset"] in PRESETS:
            preset, base = texts["preset"], preset_config(texts["preset"])
            link.used.append("preset")
        else:
            bad("preset", f"unknown preset {texts['preset'][:40]!r}")
    if "dataset" in texts:
        name = texts["dataset"]
        if name not in DATASETS:
            bad("dataset", f"unknown dataset {name[:40]!r}")
        elif base is not None and name != base.dataset:
            bad("dataset", f"preset {preset} trains on {base.dataset}, not {name}")
        elif base is None:
            base = default_config(name)
            link.used.append("dataset")
    if base is None:
        base = default_config("moons")
    d = base.to_dict()

    def attempt(keys, change):
        """Apply ``change`` (a function of the config dict) if the result is a valid config."""
        nonlocal d
        trial = {**d, "dataset_options": dict(d["dataset_options"])}
        try:
            change(trial)
            RunConfig.from_dict(trial)
        except ValueError as exc:
            for k in keys:
                bad(k, str(exc))
            return
        d = trial
        link.used.extend(keys)

    spec = get_spec(base.dataset)
    for key in OPTION_KEYS:
        if key not in texts:
            continue
        if key not in spec.options:
            bad(key, f"{base.dataset} has no option {key}")
        elif key in PATH_OPTIONS and not allow_paths and texts[key]:
            bad(key, "this hosted demo does not read files from the server")
        else:
            def change(t, key=key):
                t["dataset_options"][key] = _option_value(spec.options[key], texts[key])
            attempt([key], change)

    if "hidden" in texts:
        attempt(["hidden"], lambda t: _set_layers(t, base, texts["hidden"], None, None))
    act_keys = [k for k in ("activation", "output_activation") if k in texts]
    if act_keys:
        attempt(act_keys, lambda t: _set_layers(t, base, None, texts.get("activation"),
                                                texts.get("output_activation")))
    for key in FIELD_SETTINGS:
        if key in texts:
            attempt([key], lambda t, key=key: t.__setitem__(key, _field_value(key, texts[key])))
    link.config, link.preset = RunConfig.from_dict(d), preset
    return link


def _set_layers(t, base, hidden_text, act, out):
    """Set the hidden layers (from ``hidden_text``, else as they are in ``t``) and their
    activations: ``act`` (one name, or one per hidden layer) and ``out``, else the defaults."""
    acts = _guess_out(base)
    if hidden_text is not None:
        hidden = [] if hidden_text.lower() in ("none", "") else parse_hidden(hidden_text)
    else:
        hidden = t["hidden"]
    t["hidden"] = hidden
    if act is None and out is None and (base.activations is None or hidden == base.hidden):
        t["activations"] = base.activations      # the data's defaults, or the base's own
        return
    hid_default = acts[0] if base.n_weighted else "relu"
    n = sum(layer_kind(h) != "pool" for h in hidden)       # layers with weights (no pools)
    if act is None:
        names = [hid_default] * n
    else:
        names = [a.strip() for a in act.split(",") if a.strip()]
        if len(names) == 1:
            names = names * n
        elif len(names) != n:
            raise ValueError(f"activation: name one for every hidden layer or {n} (one per "
                             f"conv or dense layer), got {len(names)}")
    t["activations"] = names + [out or acts[-1]]


_FORMATTING = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # bidi, zero-width


def _clean(text) -> str:
    """A title or note as shown: its lines without control or direction-changing characters."""
    return "\n".join(_FORMATTING.sub("", without_controls(line)).rstrip()
                     for line in str(text).splitlines()).strip()


def _read_lesson(link, texts, bad):
    if "hide" in texts:
        names = [n.strip() for n in texts["hide"].split(",") if n.strip()]
        allowed = (SIDEBAR, *SETTINGS, *OPTION_KEYS)
        unknown = [n for n in names if n not in allowed]
        if unknown:
            bad("hide", f"no control named {', '.join(n[:20] for n in unknown[:5])}")
        link.hide = list(dict.fromkeys(n for n in names if n in allowed))
    if "page" in texts:
        if texts["page"] in PAGES:
            link.page = texts["page"]
        else:
            bad("page", f"no page {texts['page'][:30]!r}; pages: {', '.join(PAGES)}")
    for key, limit in (("title", MAX_TITLE), ("note", MAX_NOTE)):
        if key in texts:
            text = _clean(texts[key])
            if len(text) > limit:
                bad(key, f"is {len(text):,} characters long (at most {limit})")
            else:
                setattr(link, key, text)


# -- writing the address -------------------------------------------------------------------
def base_config(cfg: RunConfig, preset: str | None) -> RunConfig:
    """The defaults a setup is written against: its preset's, else its dataset's."""
    if preset in PRESETS and preset_config(preset).dataset == cfg.dataset:
        return preset_config(preset)
    return default_config(cfg.dataset)


def all_settings(cfg: RunConfig, activations=None) -> dict:
    """Every setting of ``cfg`` as its query text (key -> text), dataset options included;
    ``activations``: the layers' activations when ``cfg`` leaves them to the data."""
    acts = list(activations or cfg.activations or _guess_out(cfg))
    out = {"dataset": cfg.dataset,
           "hidden": ",".join(str(h) for h in cfg.hidden) if cfg.hidden else "none"}
    hid = acts[:-1]
    if hid:
        out["activation"] = hid[0] if len(set(hid)) == 1 else ",".join(hid)
    out["output_activation"] = acts[-1]
    for key in FIELD_SETTINGS:
        out[key] = value_text(getattr(cfg, key))
    for key, value in cfg.dataset_options.items():
        out[key] = value_text(value)
    return out


def setup_params(cfg: RunConfig, preset: str | None = None, activations=None) -> dict:
    """The query parameters of ``cfg``: only the settings that differ from the defaults of
    ``preset`` (if it is the setup's preset) or of its dataset, with ``preset`` or
    ``dataset`` first."""
    base = base_config(cfg, preset)
    mine, theirs = all_settings(cfg, activations), all_settings(base)
    out = {}
    if preset in PRESETS and base.dataset == cfg.dataset:
        out["preset"] = preset
    elif cfg.dataset != "moons":
        out["dataset"] = cfg.dataset
    for key, text in mine.items():
        if key == "dataset":
            continue
        if key == "activation":
            default = _guess_out(base)[0] if base.n_weighted else "relu"
            if set(text.split(",")) == {default}:
                continue
        elif theirs.get(key) == text:
            continue
        out[key] = text
    return out


_SAFE = ",:;'()!*/@$~"            # left as they are: a note stays readable in the link


def query_string(params: dict) -> str:
    """``dataset=spiral&hidden=8,8&title=A+ring``: keys and values form-encoded where they
    need it (spaces as ``+``; commas and most punctuation stay readable)."""
    from urllib.parse import quote_plus
    return "&".join(f"{quote_plus(str(k), safe=_SAFE)}={quote_plus(str(v), safe=_SAFE)}"
                    for k, v in params.items())


def problem_text(problems) -> str:
    """The notice's list: one line per offending key (the first MAX_PROBLEMS of them)."""
    lines = [f"{key}: {why}" for key, why in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"... and {len(problems) - MAX_PROBLEMS} more")
    return "\n".join(lines)
