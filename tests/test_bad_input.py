"""Bad-input rows not covered elsewhere, failure isolation, and security hygiene.

The full matrix (with the tests of test_nac.py, test_space.py, test_cli.py and test_resume.py that
cover the other rows) is in docs/bad_input.md.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import kerasnac as kn
from kerasnac import distributed
from kerasnac._keras import keras, tf
from kerasnac.callbacks import Callback
from kerasnac.errors import ConfigError, DataError, SpaceError
from kerasnac.oracle import ConsecutiveFailuresError

PKG = os.path.dirname(os.path.abspath(kn.__file__))


def small_space(**kw):
    return kn.SearchSpace((16,), [{"mlp": {"layers": {"min": 1, "max": 2}, "units": [4, 8, 16]}}], num_classes=5,
                          quant={"weight_bits": [3, 6], "activation_bits": [4, 8], "activation_integer": 0}, **kw)


# ----------------------------------------------------------------------------- data
def _ds(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _put(a, idx, value):
    a = a.copy()
    a[idx] = value
    return a


def _corrupt_rows(y, rows):
    y = y.copy()
    y[rows] = y[rows] * 2
    return y


@pytest.mark.parametrize("make,match", [
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=(xv[:, :15], yv)), r"x_val has sample shape \(15,\)"),
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=(xv, np.argmax(yv, 1))), "y holds onehot labels but y_val"),
    (lambda x, y, xv, yv: dict(x=x.astype(str), y=y, validation_data=(xv, yv)), "x has dtype <U"),
    (lambda x, y, xv, yv: dict(x=x, y=np.argmax(y, 1) + 0.5, validation_data=None), "non-integer class labels"),
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=None, validation_split=1.5), "validation_split must be in"),
    (lambda x, y, xv, yv: dict(x=x[:1], y=y[:1], validation_data=None), "too few to hold out"),
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=(xv, yv), batch_size=0), "batch_size must be a positive"),
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=[xv], batch_size=8), r"validation_data must be a tuple"),
    (lambda x, y, xv, yv: dict(x=x, y=None, validation_data=(xv, yv)), "x and y must both be given"),
    (lambda x, y, xv, yv: dict(x=tf.data.Dataset.from_tensor_slices((x, y)).batch(8), y=None, validation_data=(xv, yv)),
     "give validation_data as a tf.data.Dataset too"),
    (lambda x, y, xv, yv: dict(x=tf.data.Dataset.from_tensor_slices((x, y)), y=None,
                               validation_data=tf.data.Dataset.from_tensor_slices((xv, yv))), r"Batch it with ds.batch"),
    # soft labels that are not probabilities (issue 11, item 7)
    (lambda x, y, xv, yv: dict(x=x, y=np.random.default_rng(0).random(y.shape) * 7, validation_data=(xv, yv)),
     r"y has 600 of 600 rows that are neither one-hot nor probabilities summing to 1 \(first: row 0"),
    (lambda x, y, xv, yv: dict(x=x, y=y, validation_data=(xv, _corrupt_rows(yv, [3, 10]))),
     r"y_val has 2 of 200 rows .* \(first: row 3, sum 2\)"),
    # float64 values beyond float32 (item 9)
    (lambda x, y, xv, yv: dict(x=_put(x.astype("float64"), (5, 2), 1e40), y=y, validation_data=(xv, yv)),
     r"x has 1 values outside the float32 range .*1e\+40 at index \(5, 2\).*overflow to inf"),
    # tf.data: the first batch is checked like numpy arrays (item 10)
    (lambda x, y, xv, yv: dict(x=_ds(x, y[:, :4]), y=None, validation_data=_ds(xv, yv)),
     r"the training dataset \(first batch\) y has shape \(8, 4\); with num_classes=5 expected"),
    (lambda x, y, xv, yv: dict(x=_ds(x, np.argmax(y, 1) + 3), y=None, validation_data=_ds(xv, np.argmax(yv, 1))),
     r"the training dataset \(first batch\) y has class labels in \[\d, 7\] but num_classes=5 needs 0..4"),
    (lambda x, y, xv, yv: dict(x=_ds(x, y), y=None, validation_data=_ds(xv, yv * 3)),
     r"validation_data \(first batch\) y has 8 of 8 rows that are neither one-hot"),
    (lambda x, y, xv, yv: dict(x=_ds(x[:0], y[:0]), y=None, validation_data=_ds(xv, yv)),
     r"x: the tf.data.Dataset is empty"),
])
def test_more_data_errors_before_training(make, match, tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    nac = kn.KerasNAC(small_space(), directory=str(tmp_path), verbose=0)
    kw = make(xt, yt, xv, yv)
    x, y = kw.pop("x"), kw.pop("y")
    with pytest.raises(DataError, match=match):
        nac.fit(x, y, epochs=1, **kw)
    assert nac.trials_dataframe().empty


def test_regression_output_shape_mismatch(tmp_path):
    space = kn.SearchSpace((16,), [{"mlp": {"units": [4]}}], task="regression", n_outputs=2)
    nac = kn.KerasNAC(space, ["val_loss", "bops"], directory=str(tmp_path), verbose=0)
    with pytest.raises(DataError, match=r"n_outputs=2; expected shape \(n, 2\)"):
        nac.fit(np.zeros((20, 16), "float32"), np.zeros((20, 3), "float32"), epochs=1)


# ----------------------------------------------------------------------------- arguments and environment
@pytest.mark.parametrize("kwargs,match", [
    ({"population_size": 1}, "population_size must be an integer >= 2"),
    ({"local_search": {"top_k": 3}}, "local_search must be a kerasnac.LocalSearch"),
    ({"callbacks": ["hls4ml"]}, "callbacks must be kerasnac.callbacks.Callback"),
])
def test_more_config_errors(kwargs, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        kn.KerasNAC(small_space(), directory=str(tmp_path), **kwargs)


def test_objective_direction_must_be_min_or_max():
    with pytest.raises(ConfigError, match="objective 'val_accuracy': direction must be 'min' or 'max'"):
        kn.Objective("val_accuracy", "maximize")


def test_space_must_be_a_searchspace(tmp_path):
    with pytest.raises(ConfigError, match="space must be a kerasnac.SearchSpace.*from_yaml"):
        kn.KerasNAC({"stages": []}, directory=str(tmp_path))


def test_epochs_must_be_positive(tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    with pytest.raises(ConfigError, match="epochs must be an integer >= 1"):
        kn.KerasNAC(small_space(), directory=str(tmp_path), verbose=0).fit(xt, yt, validation_data=(xv, yv), epochs=0)


def test_malformed_constraint(tmp_path):
    with pytest.raises(ValueError, match=r"Malformed constraint 'lut < 5'.*'lut <= 50000'"):
        kn.KerasNAC(small_space(), directory=str(tmp_path), constraints=["lut < 5"])


@pytest.mark.parametrize("env,match", [
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_TUNER_ID": "chief"}, "KERASTUNER_ORACLE_PORT not"),
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}, "KERASTUNER_TUNER_ID not"),
    ({"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "http", "KERASTUNER_TUNER_ID": "w0"},
     "is not a port number"),
])
def test_distributed_environment_errors(env, match, monkeypatch, tmp_path):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=match):
        kn.KerasNAC(small_space(), directory=str(tmp_path))


def test_worker_timeout_must_be_positive(monkeypatch):
    monkeypatch.setenv("KERASNAC_WORKER_TIMEOUT", "-3")
    with pytest.raises(ConfigError, match="KERASNAC_WORKER_TIMEOUT='-3': expected a positive number"):
        distributed.worker_timeout()


def test_chief_port_in_use(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(s.getsockname()[1]))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
        oracle = kn.ParetoOracle([kn._keras.kt.Objective("a", "min")], max_trials=1)
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1.*free port"):
            distributed.serve(oracle)


def test_keras3_imported_first_is_named():
    code = "import os; os.environ.pop('TF_USE_LEGACY_KERAS', None); import tensorflow; import kerasnac"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                         env={k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"})
    assert out.returncode != 0
    assert "KerasVersionError" in out.stderr and "import kerasnac before TensorFlow" in out.stderr


# ----------------------------------------------------------------------------- failure isolation
class _CountingSpace(kn.SearchSpace):
    """Trial k is the k-th model built; trial 4 raises in build."""

    builds = 0

    def build(self, hp):
        type(self).builds += 1
        if type(self).builds == 5:
            raise RuntimeError("synthetic build failure: a block cannot be built")
        return super().build(hp)


class _Sabotage(keras.callbacks.Callback):
    """Per trial (by build count): 2 NaN loss, 3 inf loss, 4 exception in fit, 6 out of memory."""

    def on_epoch_end(self, epoch, logs=None):
        k = _CountingSpace.builds
        if k == 2:
            logs["loss"] = float("nan")
        elif k == 3:
            logs["loss"] = float("inf")

    def on_train_begin(self, logs=None):
        k = _CountingSpace.builds
        if k == 4:
            raise ValueError("synthetic fit failure: shapes do not match")
        if k == 6:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape [99999999]")


class _BrokenHLS(Callback):
    name = "hls4ml"

    def on_candidate(self, candidate):
        raise RuntimeError(f"hls4ml compile failed for {candidate.candidate_id}: synthetic g++ error")


def test_each_failure_is_recorded_and_the_search_goes_on(tmp_path, jets):
    (xt, yt), (xv, yv) = jets
    _CountingSpace.builds = 0
    space = _CountingSpace((16,), [{"mlp": {"layers": {"min": 1, "max": 2}, "units": [4, 8, 16]}}], num_classes=5,
                           quant={"weight_bits": [3, 6], "activation_bits": [4, 8], "activation_integer": 0})
    # initial="random": the sabotage counts builds, and a stratified plan builds models before the first trial
    nac = kn.KerasNAC(space, max_trials=7, population_size=3, directory=str(tmp_path), seed=0, verbose=0,
                      fit_callbacks=[_Sabotage()], max_consecutive_failed_trials=10, callbacks=[_BrokenHLS()],
                      initial="random")
    nac.fit(xt, yt, validation_data=(xv, yv), epochs=1, batch_size=64)
    df = nac.trials_dataframe().set_index("trial_id")
    order = list(df.index)
    expect = {1: "loss became NaN/inf", 2: "loss became NaN/inf", 3: "synthetic fit failure",
              4: "synthetic build failure", 5: "out of memory in trial"}
    for k, text in expect.items():
        assert df.loc[order[k], "status"] == "FAILED", (k, df.loc[order[k], "reason"])
        assert text in df.loc[order[k], "reason"], (k, df.loc[order[k], "reason"])
    assert "Reduce batch_size" in df.loc[order[5], "reason"]
    assert df.loc[order[0], "status"] == df.loc[order[6], "status"] == "COMPLETED"  # the search went on
    on_disk = pd.read_csv(os.path.join(nac.project_dir, "trials.csv"))
    assert (on_disk["status"] == "FAILED").sum() == 5 and on_disk["reason"].notna().sum() == 5
    # the callback failed for every final candidate, each is recorded, none stopped the others
    final = pd.read_csv(os.path.join(nac.project_dir, "final.csv"))
    assert len(final) == len(nac.oracle.pareto_front_ids()) >= 1
    assert final["hls4ml_error"].str.contains("synthetic g\\+\\+ error").all()


def test_many_consecutive_failures_stop_naming_the_most_common_cause(tmp_path, jets):
    (xt, yt), (xv, yv) = jets

    class Broken(kn.SearchSpace):
        n = 0

        def build(self, hp):
            Broken.n += 1
            raise RuntimeError("out of LUTs" if Broken.n == 2 else "synthetic: stage s0 cannot be built")

    space = Broken((16,), [{"mlp": {"units": [4, 8, 16], "layers": {"min": 1, "max": 3}}}], num_classes=5)
    # initial="random": the build count decides which trial fails, and a stratified plan builds models first
    nac = kn.KerasNAC(space, max_trials=10, population_size=3, directory=str(tmp_path), verbose=0,
                      max_consecutive_failed_trials=3, initial="random")
    with pytest.raises(ConsecutiveFailuresError, match=r"3 trials failed in a row.*\(2 of 3\).*stage s0 cannot be built"):
        nac.fit(xt, yt, validation_data=(xv, yv), epochs=1)
    df = pd.read_csv(os.path.join(nac.project_dir, "trials.csv"))
    assert len(df) == 3 and (df["status"] == "FAILED").all()


# ----------------------------------------------------------------------------- security hygiene
def _sources():
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                with open(path) as fh:
                    yield os.path.relpath(path, PKG), fh.read()


def test_no_eval_exec_pickle_or_unsafe_yaml_in_the_package():
    bad = re.compile(r"(?<![\w.])(eval|exec)\(|\bpickle\b|\bdill\b|\bmarshal\b|(?<!\w)yaml\.load\(|yaml\.unsafe_load|"
                     r"yaml\.full_load|allow_pickle\s*=\s*True|shell\s*=\s*True")
    # the one exception: KerasNAC(workers=N) hands callables to its own worker processes as a pickle signed
    # with a key that never touches the disk (tests/test_local_workers.py::test_tampered_objects_are_refused)
    # and YAML is read through one yaml.load call whose loader is a SafeLoader subclass (_yamlfile._Loader,
    # which only adds YAML 1.2 exponent floats); the check below makes sure it stays safe
    def allowed(name, text, m):
        line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())]
        return ((name == "_worker.py" and m.group(0) == "pickle")
                or (name == "_yamlfile.py" and m.group(0) == "yaml.load(" and "Loader=_Loader)" in line))

    hits = [(name, m.group(0)) for name, text in _sources() for m in bad.finditer(text) if not allowed(name, text, m)]
    assert not hits, hits
    assert any("yaml.safe_load" in text for _, text in _sources())
    from kerasnac import _yamlfile
    assert issubclass(_yamlfile._Loader, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError, match="could not determine a constructor"):
        _yamlfile.safe_load("x: !!python/object/apply:os.system ['echo x']")


@pytest.mark.parametrize("activation", ["relu); __import__('os').system('echo x'", "quantized_relu(4,0)", "gelu"])
def test_quantizer_strings_come_from_a_whitelist(activation):
    with pytest.raises(SpaceError, match="not supported by QKeras and hls4ml"):
        kn.SearchSpace((16,), [{"mlp": {"activation": [activation]}}], num_classes=2)


def test_quantizer_strings_are_built_from_integers_only():
    from kerasnac.space import ACTIVATIONS, Quant

    q = Quant(weight_bits=6, activation_bits=8, activation_integer=2)
    strings = [q.kernel_quantizer(), q.bias_quantizer()] + [q.activation_quantizer(a) for a in ACTIVATIONS]
    pattern = re.compile(r"^quantized_(bits|relu|tanh|sigmoid)\(\d+(,\d+)?(,alpha=1|,negative_slope=0\.125)?\)$")
    assert all(pattern.match(s) for s in strings), strings
    with pytest.raises(SpaceError, match="bit widths must be integers"):
        kn.SearchSpace((16,), [{"mlp": {"quant": {"weight_bits": ["6,0); import os"]}}}], num_classes=2)


# ----------------------------------------------------------------------------- counting failure causes
_GRAPH_ERR = ("Graph execution error: Incompatible shapes: [8,5] vs. [8,4] [[{{node model_%d/dense_%d/BiasAdd}}]] "
              "[Op:__inference_train_function_%d]")


def test_failure_reasons_are_counted_by_cause(tmp_path):
    from kerasnac.results import normalize_reason

    same = [_GRAPH_ERR % (i, i + 2, 1000 + 37 * i) for i in range(3)]
    assert len({normalize_reason(r) for r in same}) == 1
    assert normalize_reason("bad object <Foo at 0x7f3a2c1d>") == normalize_reason("bad object <Foo at 0x55aa01>")
    assert normalize_reason("out of memory in trial 05 (x)") == normalize_reason("out of memory in trial 12 (x)")
    assert normalize_reason("out of LUTs") != normalize_reason("out of memory in trial 05 (x)")
    # the summary names the cause of 3 failures, not the one of 2 identical messages
    nac = kn.KerasNAC(small_space(), directory=str(tmp_path), verbose=0)
    df = pd.DataFrame({"trial_id": list("01234"), "status": ["FAILED"] * 5,
                       "reason": same + ["RuntimeError: out of LUTs"] * 2})
    nac.trials_dataframe = lambda: df
    nac.pareto_front = lambda: df.iloc[:0]
    text = nac.summary(print_fn=None)
    assert "failures: 5; most common: 'Graph execution error: Incompatible shapes" in text
    assert "{{node model/dense/BiasAdd}}]] [Op:__inference_train_function]'" in text
