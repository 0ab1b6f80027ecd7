"""Datasets made offline: generators in the package and loaders of files a user points to."""

from ._bragg import (bragg_baseline, bragg_centroid, bragg_distance, bragg_fit_pseudo_voigt, bragg_metrics,
                     bragg_peaks, load_bragg_hdf5, load_braggnn_frames, make_bragg_peaks)
from ._calorimeter import (calorimeter_baseline, calorimeter_metrics, calorimeter_showers,
                           make_calorimeter_showers)
from ._public_jets import load_hls4ml_h5, load_openml_jets, read_hls4ml_h5, read_openml_jets
from ._toy_jets import CLASSES as JET_CLASSES
from ._toy_jets import FEATURES as JET_FEATURES
from ._toy_jets import split_and_scale, toy_jets_hlf

__all__ = ["toy_jets_hlf", "split_and_scale", "JET_CLASSES", "JET_FEATURES",
           "bragg_peaks", "make_bragg_peaks", "bragg_distance", "bragg_metrics", "bragg_baseline",
           "bragg_fit_pseudo_voigt", "bragg_centroid", "load_bragg_hdf5", "load_braggnn_frames",
           "calorimeter_showers", "make_calorimeter_showers", "calorimeter_metrics", "calorimeter_baseline",
           "load_openml_jets", "read_openml_jets", "load_hls4ml_h5", "read_hls4ml_h5"]
