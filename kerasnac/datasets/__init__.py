"""Datasets made offline: generators in the package and loaders of files a user points to.

* Jets: :func:`jets` (Pythia 8 jets, shipped sample or a generated file), :func:`generate_jets`
  (needs the ``pythia`` extra), public formats :func:`load_openml_jets` (OpenML 42468) and
  :func:`load_hls4ml_h5` (Zenodo 3602260), and the fast :func:`toy_jets_hlf`.
* Bragg peaks: :func:`bragg_peaks`, the metric :func:`bragg_metrics`, classical
  :func:`bragg_baseline`, loaders :func:`load_bragg_hdf5` and :func:`load_braggnn_frames`.
* Calorimeter showers: :func:`calorimeter_showers` (energy regression), :func:`calorimeter_metrics`,
  :func:`calorimeter_baseline`; :func:`electron_photon_showers` (electron / photon identification).

All ``*(...)`` dataset functions return ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``.
"""

from ._bragg import (bragg_baseline, bragg_centroid, bragg_distance, bragg_fit_pseudo_voigt, bragg_metrics,
                     bragg_peaks, load_bragg_hdf5, load_braggnn_frames, make_bragg_peaks)
from ._calorimeter import (calorimeter_baseline, calorimeter_metrics, calorimeter_showers,
                           electron_photon_showers, make_calorimeter_showers)
from ._jet_substructure import hlf_features as jet_hlf_features
from ._jet_substructure import soft_drop as jet_soft_drop
from ._jets import CASE_STUDY_PATH as JETS_CASE_STUDY_PATH
from ._jets import SAMPLE_PATH as JETS_SAMPLE_PATH
from ._jets import jet_summary, jets, load_jets_file
from ._public_jets import load_hls4ml_h5, load_openml_jets, read_hls4ml_h5, read_openml_jets
from ._pythia_jets import generate_jets, save_jets
from ._toy_jets import CLASSES as JET_CLASSES
from ._toy_jets import FEATURES as JET_FEATURES
from ._toy_jets import split_and_scale, toy_jets_hlf

__all__ = ["toy_jets_hlf", "split_and_scale", "JET_CLASSES", "JET_FEATURES",
           "jets", "load_jets_file", "jet_summary", "JETS_SAMPLE_PATH", "JETS_CASE_STUDY_PATH", "generate_jets", "save_jets",
           "jet_hlf_features", "jet_soft_drop",
           "load_openml_jets", "read_openml_jets", "load_hls4ml_h5", "read_hls4ml_h5",
           "bragg_peaks", "make_bragg_peaks", "bragg_distance", "bragg_metrics", "bragg_baseline",
           "bragg_fit_pseudo_voigt", "bragg_centroid", "load_bragg_hdf5", "load_braggnn_frames",
           "calorimeter_showers", "make_calorimeter_showers", "calorimeter_metrics", "calorimeter_baseline",
           "electron_photon_showers"]
