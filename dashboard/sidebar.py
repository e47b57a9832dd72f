"""The sidebar: the run's setup (data, preset, network, training settings).

Widgets hold the setup; on every full rerun :func:`render` reads them into a RunConfig
(fields without a widget come from ``state.SETUP``) and hands it to
``state.apply_config``. Choosing a dataset or a preset writes a whole setup into the
widgets from a callback, before they are drawn.
"""
from __future__ import annotations

import streamlit as st

from dashboard import state
from nncore import ACTIVATIONS, DATASETS, INITIALIZERS, LOSSES, OPTIMIZERS, RunConfig, parse_hidden
from nncore.datasets import FASHION_DIRS, FEATURE_LABELS, MNIST_DIRS, get_spec
from nncore.presets import PRESETS, default_config, preset_config
from nncore.text import shape_text

NO_PRESET = "(none)"
MAX_LAYERS = 64
SEED_MAX = 2**53 - 1          # the largest whole number a browser number field holds exactly
WIDGET_KEYS = {f: f"sb_{f}" for f in ("dataset", "preset", "hidden", "loss", "optimizer", "lr",
                            "lr_schedule", "lr_decay", "momentum",
                            "beta1", "beta2", "batch", "batch_size", "l2", "dropout", "seed",
                            "epochs", "init", "biases", "shuffle", "passes_per_epoch",
                            "target_loss", "dtype")}
ACT_OUT = "sb_act_out"
HIDDEN_ACTS = [a for a in ACTIVATIONS if a != "softmax"]
LOSS_NAMES = {"cross_entropy": "cross-entropy", "mse": "mse (mean squared error)",
              "sse": "sse (half summed squared error, as the tutorials)"}
OPT_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov momentum",
             "adam": "Adam", "perturb": "random perturbation (tutorial 3)"}
SCHEDULE_NAMES = {"constant": "constant", "exponential": "exponential decay per epoch",
                  "cosine": "cosine down over the epochs per run"}
BATCH_NAMES = {"full": "full batch", "mini": "mini-batch", "online": "online (1 sample)"}
INIT_NAMES = {"auto": "auto (He for ReLU, else Xavier)", "he": "He", "xavier": "Xavier",
              "uniform": "uniform(-1, 1)", "uniform01": "uniform[0, 1)", "randn": "randn",
              "normal01": "normal(0, 0.1)"}
IDX_HINT = {"mnist": MNIST_DIRS, "fashion_mnist": FASHION_DIRS}


def act_key(i):
    return f"sb_act_{i}"


def opt_key(dataset, key):
    return f"sb_opt_{dataset}_{key}"


# -- config <-> widgets --------------------------------------------------------------------
def _option_value(opt, value):
    """A dataset option's value in the type its widget needs."""
    if isinstance(opt.default, bool):
        return bool(value)
    if isinstance(opt.default, int):
        return int(value)
    if isinstance(opt.default, float):
        return float(value)
    if opt.choices:                     # a multiselect holds the chosen names as a list
        return [c for c in str(value).split(",") if c] if isinstance(value, str) else list(value)
    return str(value)


def _option_config(opt, value):
    """A dataset option's widget value as the run's config keeps it."""
    return ",".join(value) if opt.choices and isinstance(value, list) else value


def write_widgets(cfg: RunConfig, activations):
    """Put ``cfg`` into the sidebar widgets (call before they are drawn)."""
    ss = st.session_state
    spec = get_spec(cfg.dataset)
    ss[WIDGET_KEYS["dataset"]] = cfg.dataset
    for key, opt in spec.options.items():
        ss[opt_key(cfg.dataset, key)] = _option_value(opt, cfg.dataset_options.get(key, opt.default))
    ss[WIDGET_KEYS["hidden"]] = ", ".join(str(h) for h in cfg.hidden)
    for i in range(MAX_LAYERS):
        ss.pop(act_key(i), None)
    for i, name in enumerate(activations[:-1]):
        ss[act_key(i)] = name
    ss[ACT_OUT] = activations[-1]
    for f in ("loss", "optimizer", "lr_schedule", "batch", "init", "dtype"):
        ss[WIDGET_KEYS[f]] = getattr(cfg, f)
    for f in ("lr", "lr_decay", "momentum", "beta1", "beta2", "l2", "dropout"):
        ss[WIDGET_KEYS[f]] = float(getattr(cfg, f))
    for f in ("batch_size", "epochs", "passes_per_epoch"):
        ss[WIDGET_KEYS[f]] = int(getattr(cfg, f))
    ss[WIDGET_KEYS["seed"]] = min(int(cfg.seed), SEED_MAX)
    ss[WIDGET_KEYS["biases"]] = bool(cfg.biases)
    ss[WIDGET_KEYS["shuffle"]] = bool(cfg.shuffle)
    ss[WIDGET_KEYS["target_loss"]] = float(cfg.target_loss or 0.0)


def read_config(base: RunConfig) -> RunConfig:
    """The setup the widgets show, on top of ``base``; raises ValueError naming the field."""
    ss = st.session_state
    d = base.to_dict()
    name = ss[WIDGET_KEYS["dataset"]]
    spec = get_spec(name)
    d["dataset"] = name
    d["dataset_options"] = {k: _option_config(option, ss.get(opt_key(name, k),
                                                        base.dataset_options.get(k, option.default)))
                            for k, option in spec.options.items()}
    d["hidden"] = parse_hidden(ss[WIDGET_KEYS["hidden"]])
    n_weighted = len(_weighted(d["hidden"]))                     # pools have no activation
    d["activations"] = [ss.get(act_key(i), "relu") for i in range(n_weighted)] + [ss[ACT_OUT]]
    for f in ("loss", "optimizer", "lr", "lr_schedule", "lr_decay", "momentum", "beta1", "beta2",
              "batch", "batch_size", "l2", "dropout", "seed", "epochs", "init", "biases", "shuffle", "passes_per_epoch", "dtype"):
        if WIDGET_KEYS[f] in ss:
            d[f] = ss[WIDGET_KEYS[f]]
    if d["seed"] == min(base.seed, SEED_MAX):      # a loaded run's seed beyond the field's reach
        d["seed"] = base.seed
    target = ss.get(WIDGET_KEYS["target_loss"], 0.0)
    d["target_loss"] = float(target) if target else None
    return RunConfig.from_dict(d)


# -- callbacks -----------------------------------------------------------------------------
def _load_setup(cfg: RunConfig, reason: str):
    """Start a run on ``cfg`` (if it builds) and show its setup in the widgets."""
    ss = st.session_state
    ss[state.SETUP] = cfg
    try:
        state.apply_config(cfg, reason=reason)
        activations = state.explicit(state.get_trainer()).activations
    except ValueError as exc:      # the main pass shows the error again, in its place
        ss[state.SETUP_ERROR] = state.error_text(exc)
        activations = cfg.layer_activations(1 if get_spec(cfg.dataset).kind == "logic" else 2)
    write_widgets(cfg, activations)


def _on_dataset():
    ss = st.session_state
    ss[WIDGET_KEYS["preset"]] = NO_PRESET
    name = ss[WIDGET_KEYS["dataset"]]
    _load_setup(default_config(name), f"dataset {name} with its default setup")


def _on_preset():
    name = st.session_state[WIDGET_KEYS["preset"]]
    if name != NO_PRESET:
        _load_setup(preset_config(name), f"preset {name}")


def _to_modern(name):
    st.session_state[WIDGET_KEYS["preset"]] = name
    _load_setup(preset_config(name), f"preset {name}")


# -- drawing -------------------------------------------------------------------------------
def _sync_pending():
    """Write a setup installed by ``state.replace_trainer`` (or the first run's) into the widgets."""
    ss = st.session_state
    pending = ss.get(state.SYNC_WIDGETS)
    if pending is not None:
        write_widgets(pending, pending.activations)
        ss[WIDGET_KEYS["preset"]] = NO_PRESET
        ss[state.SYNC_WIDGETS] = None
    elif WIDGET_KEYS["dataset"] not in ss:
        cfg = state.explicit(state.get_trainer())
        write_widgets(cfg, cfg.activations)
    ss.setdefault(WIDGET_KEYS["preset"], NO_PRESET)


def _dataset_options(name):
    ss = st.session_state
    spec = get_spec(name)
    for key, opt in spec.options.items():
        wkey = opt_key(name, key)
        if wkey not in ss:
            ss[wkey] = _option_value(opt, ss[state.SETUP].dataset_options.get(key, opt.default)
                                     if ss[state.SETUP].dataset == name else opt.default)
        label = opt.help[:1].upper() + opt.help[1:]
        if isinstance(opt.default, bool):
            st.checkbox(label, key=wkey)
        elif isinstance(opt.default, int):
            st.number_input(label, min_value=int(opt.lo), max_value=int(opt.hi), step=1, key=wkey)
        elif isinstance(opt.default, float):
            step = 0.05 if key == "test_fraction" else 0.01
            st.slider(label, float(opt.lo), float(opt.hi), step=step, key=wkey)
        elif opt.choices:
            st.multiselect(label, opt.choices, key=wkey, format_func=FEATURE_LABELS.get,
                           on_change=_in_order, args=(wkey, opt.choices),
                           help="What the network is given of each point (x1, x2): add squares, "
                                "the product or sines to make a pattern easier to separate, as in "
                                "the TensorFlow Playground.")
        else:
            hint = IDX_HINT.get(name)
            st.text_input(label, key=wkey, placeholder=hint[0] if hint else "",
                          help=(f"Leave empty to look in {', '.join(hint)} and $NNCORE_DATA_DIR"
                                if hint else None))


def _in_order(wkey, choices):
    """Keep a multiselect's choices in their canonical order (the order the data uses)."""
    ss = st.session_state
    ss[wkey] = [c for c in choices if c in ss[wkey]]


def _preset_block():
    ss = st.session_state
    names = [NO_PRESET, *PRESETS]
    st.selectbox("Preset", names, key=WIDGET_KEYS["preset"], on_change=_on_preset,
                 help="The tutorials' networks, faithful to their text, and modern variants. "
                      "Choosing one fills in the whole setup.")
    name = ss[WIDGET_KEYS["preset"]]
    if name in PRESETS:
        p = PRESETS[name]
        if p.get("tutorial"):
            st.caption(f"Tutorial {p['tutorial']}")
        st.caption(f"{p['description']}. **Expected:** {p['expected']}.")
        if p.get("modern"):
            st.button(f"Switch to the modern variant ({p['modern']})", key="sb_modern",
                      on_click=_to_modern, args=(p["modern"],), width="stretch",
                      icon=":material/bolt:")


def _weighted(hidden):
    """The hidden layers that have an activation (dense and conv; not pool)."""
    return [h for h in hidden if not str(h).startswith("pool")]


def _network_block():
    ss = st.session_state
    st.text_input("Hidden layers", key=WIDGET_KEYS["hidden"], placeholder="e.g. 16, 8",
                  help="Units per hidden layer, separated by commas; empty for none. For images, "
                       "convolution and max-pooling first: conv 8@5x5, pool 2, 64 (8 filters of "
                       "5×5, then 2×2 max-pooling, then 64 units).")
    shape_slot, problem_slot = st.empty(), st.container()
    try:
        hidden = parse_hidden(ss[WIDGET_KEYS["hidden"]])
    except ValueError:
        hidden = []
    hidden = _weighted(hidden)[:MAX_LAYERS]
    cols = st.columns(2)
    for i, h in enumerate(hidden):
        if act_key(i) not in ss:
            ss[act_key(i)] = ss.get(act_key(i - 1), "relu")
        label = f"Layer {i + 1} activation" + (f" ({h})" if isinstance(h, str) else "")
        cols[i % 2].selectbox(label, HIDDEN_ACTS, key=act_key(i))
    cols[len(hidden) % 2].selectbox("Output activation", list(ACTIVATIONS), key=ACT_OUT)
    st.selectbox("Loss", list(LOSSES), key=WIDGET_KEYS["loss"], format_func=LOSS_NAMES.get)
    return shape_slot, problem_slot


def _training_block():
    ss = st.session_state
    st.selectbox("Optimiser", list(OPTIMIZERS), key=WIDGET_KEYS["optimizer"], format_func=OPT_NAMES.get)
    st.number_input("Learning rate", min_value=0.0, max_value=100.0, step=0.001, format="%g",
                    key=WIDGET_KEYS["lr"], help="Applies from the next epoch; the run goes on.")
    st.selectbox("Learning-rate schedule", list(SCHEDULE_NAMES), key=WIDGET_KEYS["lr_schedule"],
                 format_func=SCHEDULE_NAMES.get,
                 help="The rate each epoch trains at: the learning rate throughout; that rate "
                      "times the decay each epoch; or a cosine from it down to near 0 over the "
                      "first 'Epochs per run' epochs (later epochs keep the last rate). The loss "
                      "chart's hover shows each epoch's rate.")
    if ss[WIDGET_KEYS["lr_schedule"]] == "exponential":
        st.number_input("Decay per epoch", min_value=0.0001, max_value=1.0, step=0.01, format="%g",
                        key=WIDGET_KEYS["lr_decay"], help="Each epoch's rate is the last one's times this")
    opt = ss[WIDGET_KEYS["optimizer"]]
    if opt in ("momentum", "nesterov"):
        st.number_input("Momentum", min_value=0.0, max_value=0.9999, step=0.05, format="%g",
                        key=WIDGET_KEYS["momentum"])
    elif opt == "adam":
        c1, c2 = st.columns(2)
        c1.number_input("β1", min_value=0.0, max_value=0.9999, step=0.01, format="%g", key=WIDGET_KEYS["beta1"])
        c2.number_input("β2", min_value=0.0, max_value=0.99999, step=0.001, format="%g",
                        key=WIDGET_KEYS["beta2"])
    st.radio("Batch", list(BATCH_NAMES), key=WIDGET_KEYS["batch"], format_func=BATCH_NAMES.get,
             horizontal=True)
    if ss[WIDGET_KEYS["batch"]] == "mini":
        st.number_input("Batch size", min_value=1, max_value=1_000_000, step=1, key=WIDGET_KEYS["batch_size"])
    c1, c2 = st.columns(2)
    c1.number_input("L2", min_value=0.0, max_value=10.0, step=0.0001, format="%g", key=WIDGET_KEYS["l2"])
    c2.number_input("Dropout", min_value=0.0, max_value=0.95, step=0.05, format="%g",
                    key=WIDGET_KEYS["dropout"], help="Probability of zeroing a hidden unit while training")
    c1, c2 = st.columns(2)
    c1.number_input("Seed", min_value=0, max_value=SEED_MAX, step=1, key=WIDGET_KEYS["seed"],
                    help="Drives the data split, the starting weights and all training noise")
    c2.number_input("Epochs per run", min_value=1, max_value=10_000_000, step=1, key=WIDGET_KEYS["epochs"],
                    help="How many epochs the Train N epochs button runs")
    with st.expander("More settings"):
        st.selectbox("Initialiser", ["auto", *INITIALIZERS], key=WIDGET_KEYS["init"], format_func=INIT_NAMES.get)
        c1, c2 = st.columns(2)
        c1.checkbox("Biases", key=WIDGET_KEYS["biases"])
        c2.checkbox("Shuffle", key=WIDGET_KEYS["shuffle"], help="Shuffle the samples every epoch")
        st.number_input("Passes over the data per epoch", min_value=1, max_value=1_000_000, step=1,
                        key=WIDGET_KEYS["passes_per_epoch"],
                        help="The tutorials' long runs count iterations; an epoch can hold many")
        st.number_input("Target loss (0 = none)", min_value=0.0, max_value=1e9, step=0.0001,
                        format="%g", key=WIDGET_KEYS["target_loss"], help="Training stops once reached")
        st.radio("Precision", ["float32", "float64"], key=WIDGET_KEYS["dtype"], horizontal=True)


def render():
    """Draw the sidebar and make the run follow it."""
    ss = st.session_state
    state.init_session()
    _sync_pending()
    with st.sidebar:
        st.selectbox("Dataset", list(DATASETS), key=WIDGET_KEYS["dataset"], on_change=_on_dataset)
        name = ss[WIDGET_KEYS["dataset"]]
        st.caption(get_spec(name).description)
        _dataset_options(name)
        data_slot = st.container()
        _preset_block()
        st.subheader("Network", divider="gray")
        shape_slot, problem_slot = _network_block()
        st.subheader("Training", divider="gray")
        _training_block()
    _apply(data_slot, shape_slot, problem_slot)


def _apply(data_slot, shape_slot, problem_slot):
    ss = st.session_state
    ss[state.SETUP_ERROR] = None
    try:
        cfg = read_config(ss[state.SETUP])
        state.apply_config(cfg)
    except state.DataError as exc:
        _setup_error(data_slot, exc)
    except ValueError as exc:
        _setup_error(problem_slot, exc)
    tr = state.get_trainer()
    shape = f"**{shape_text(tr.network.sizes)}** · {tr.network.n_params:,} parameters"
    if ss[state.SETUP_ERROR]:
        shape_slot.caption(f"Current run: {shape}")
    else:
        shape_slot.caption(f"Shape {shape}")


def _setup_error(slot, exc):
    ss = st.session_state
    tr = state.get_trainer()
    text = state.error_text(exc)
    ss[state.SETUP_ERROR] = text
    state.show_error(exc, slot)
    slot.caption(f"The current run ({tr.config.dataset}, {shape_text(tr.network.sizes)}, "
                 f"epoch {tr.epoch}) is kept.")
