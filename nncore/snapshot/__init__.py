"""Training-state snapshots: a whole run as one JSON document, and back again.

Format ``nncore.training-state`` version 1 (described by
``nncore/snapshot/schema/training-state.v1.schema.json`` and in the README):

- ``config``: the run's :class:`RunConfig` (dataset and options, layers, activations, loss,
  optimiser and settings, batch, seed, dtype); ``network``: sizes, activations, biases;
  ``input_neurons`` / ``output_neurons``: sizes, image shape, class names;
- ``data``: a SHA-256 fingerprint of the arrays the run trained on (the data are rebuilt from
  the config on load, and must match);
- ``probe``: one fixed input (the first test sample) and its target;
- ``training_states``: one entry per stored epoch: its metrics, every layer's weights
  (n_in, n_out) and biases (n_out,), and the probe's weighted sum and activation per layer;
- ``records``: the metrics of every epoch (the curves), epoch 0 first;
- ``resume``: the exact state to continue from: flat parameters and last-batch gradients,
  the optimiser's arrays and step count, and the PCG64 generator state (integers written as
  decimal strings so JavaScript readers keep every digit).

Format version 2 (``training-state.v2.schema.json``) is the same document for a network
with conv and pool layers: ``network.sizes`` starts with the input shape (``"1x28x28"``) and
holds ``"conv K@RxR"`` / ``"pool P"`` entries, ``network.layers`` spells out every layer's
kind and shapes, ``training_states[].layers`` has one entry per layer with weights (conv
weights (out, in, kh, kw) as PyTorch's), and the probe passes every layer, pools included.
Dense networks are still written as version 1; both versions load.

Arrays are either readable nested lists of numbers or compact objects
``{"dtype": "float32", "shape": [...], "base64": "...", "filters": [...]}``: little-endian
bytes, optionally transformed before base64 by ``filters`` in order: ``xor-previous`` (the
bit pattern XOR-ed with the same array of the previous training state), ``shuffle`` (byte
planes: byte 0 of every element, then byte 1, ...) and ``zlib`` (RFC 1950). Readers undo
them in reverse order. Loading never half-loads: :meth:`Snapshot.to_trainer` builds a new
:class:`Trainer`, and every problem raises :class:`SnapshotError` naming the field.

The modules: ``format`` (constants, the error, field checks), ``codec`` (arrays both ways),
``guards`` (size, gzip, depth and count checks around parsing), ``export`` (a Trainer to a
document, bytes or a file) and ``reader`` (a document back to a :class:`Snapshot`).
"""
from .export import data_fingerprint, default_filename, dumps, save, select_epochs, to_document
from .format import (
                     DEFAULT_MAX_BYTES,
                     FORMAT,
                     SCHEMA_PATH,
                     SCHEMA_V2_PATH,
                     VERSION,
                     VERSION_CONV,
                     VERSIONS,
                     SnapshotError,
)
from .guards import check_structure, parse_json
from .reader import Snapshot, from_document, load, load_trainer, loads, schema

__all__ = ["DEFAULT_MAX_BYTES", "FORMAT", "SCHEMA_PATH", "SCHEMA_V2_PATH", "VERSION", "VERSIONS",
           "VERSION_CONV", "Snapshot", "SnapshotError",
           "check_structure", "data_fingerprint", "default_filename", "dumps", "from_document",
           "load", "load_trainer", "loads", "parse_json", "save", "schema", "select_epochs",
           "to_document"]
