"""Pure figure builders: NumPy arrays in, ``go.Figure`` out. No Streamlit here.

One module a view: ``curves`` (loss, accuracy, epoch times, norms), ``plane`` (the decision
boundary and the hidden units' maps of 2-D data), ``diagram`` (the network as lines and
units), ``conv`` (conv filters, feature maps, the block diagram of a conv net), ``data`` (sample images, logic tables, a PCA view), ``weights`` (heatmaps, unit
images, histograms) and ``predictions`` (the Predictions page's gallery, confusion matrix
and probabilities), ``compare`` (several runs' curves overlaid), over ``base`` (layout,
template, colours, the validation switch).
The builders a page needs are importable from this package directly.
"""
from .base import MAX_SIDE, figure_bytes
from .compare import compare_accuracy, compare_loss
from .conv import conv_diagram, conv_filters, diagram_blocks, feature_maps
from .curves import accuracy_curves, epoch_times, loss_curves, norms
from .data import image_samples, logic_outputs, pca_scatter, truth_table
from .diagram import GRAPH_MAX_UNITS, network_graph
from .plane import boundary_field, boundary_layout, boundary_right_wrong, decision_boundary, unit_maps
from .weights import block_average, block_factors, histograms, shared_scale, unit_images, weight_heatmap

__all__ = ["GRAPH_MAX_UNITS", "MAX_SIDE", "accuracy_curves", "block_average", "block_factors", "boundary_field", "boundary_layout", "boundary_right_wrong", "compare_accuracy", "compare_loss", "conv_diagram", "conv_filters", "decision_boundary", "diagram_blocks", "epoch_times", "feature_maps", "figure_bytes", "histograms", "image_samples", "logic_outputs", "loss_curves", "network_graph", "norms", "pca_scatter", "shared_scale", "truth_table", "unit_images", "unit_maps", "weight_heatmap"]
