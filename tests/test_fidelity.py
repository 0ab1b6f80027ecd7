"""Multi-fidelity trials (kerasnac.fidelity): rung schedule, promotion rule, oracle and KerasNAC."""

import pytest

import kerasnac as kn
from kerasnac._keras import kt
from kerasnac.fidelity import RUNG_KEY

from test_oracle import make_oracle

STOPPED, RUNNING = kt.engine.trial.TrialStatus.STOPPED, kt.engine.trial.TrialStatus.RUNNING


@pytest.mark.parametrize("kwargs", [{"min_epochs": 0}, {"eta": 1}, {"grace": -1}, {"eta": 2.5}, {"min_epochs": True}])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(ValueError, match="SuccessiveHalving"):
        kn.SuccessiveHalving(**kwargs)


def test_rung_schedule():
    assert kn.SuccessiveHalving(1, 3).rungs(9) == [1, 3]
    assert kn.SuccessiveHalving(1, 3).rungs(10) == [1, 3, 9]
    assert kn.SuccessiveHalving(2, 2).rungs(8) == [2, 4]
    assert kn.SuccessiveHalving(1, 3).rungs(1) == []


def test_promotes_the_best_third_by_rank_and_crowding():
    sh = kn.SuccessiveHalving(eta=3, grace=0)
    # minimised (error, cost): a, b, c on the front (a and c are its extremes), d and e dominated
    records = {"a": [0.1, 9.0], "b": [0.3, 5.0], "c": [0.6, 1.0], "d": [0.5, 6.0], "e": [0.7, 8.0], "f": [0.65, 9.5]}
    promoted = {t for t in records if sh.promote(records, t)}
    assert promoted == {"a", "c"}  # ceil(6/3) = 2: the front's two extremes (infinite crowding)
    assert sh.promote({"x": [1.0, 1.0]}, "x")
    assert kn.SuccessiveHalving(grace=3).promote({"a": [1, 1], "b": [0, 0], "c": [2, 2]}, "c")  # within grace


def test_oracle_answers_rung_reports_and_keeps_them_in_its_state(tmp_path):
    oracle = make_oracle(tmp_path, "rung", fidelity=kn.SuccessiveHalving(eta=2, grace=2), max_trials=10)
    trials = [oracle.create_trial("t0") for _ in range(1)]
    answers = []
    for i, (f1, f2) in enumerate([(0.5, 0.5), (0.4, 0.4), (0.9, 0.9), (0.1, 0.1)]):
        trial = trials[0] if i == 0 else oracle.create_trial(f"t{i}")
        status = oracle.update_trial(trial.trial_id, {"f1": f1, "f2": f2, RUNG_KEY: 1.0}, step=1).status
        answers.append(status)
        # a rung report is not a metric of the trial
        assert not oracle.trials[trial.trial_id].metrics.exists("f1")
    assert answers == [RUNNING, RUNNING, STOPPED, RUNNING]  # grace 2, then the best half of the rung
    state = oracle.get_state()
    assert set(state["rungs"]["1"]) == {t.trial_id for t in oracle.trials.values()}
    again = make_oracle(tmp_path, "rung", fidelity=kn.SuccessiveHalving(eta=2, grace=2), max_trials=10)
    again.reload()  # the oracle saved itself after each rung report
    assert again._rungs == oracle._rungs


def test_kerasnac_stops_unpromising_trials_early_and_ranks_only_within_rungs(tmp_path):
    from _search_proc import small_search, small_space

    nac = small_search(tmp_path, 8, 4, epochs=3, fidelity=kn.SuccessiveHalving(min_epochs=1, eta=3, grace=2))
    df = nac.trials_dataframe()
    assert len(df) == 8 and (df["status"] == "COMPLETED").all()
    trained = df["epochs_trained"].astype(int)
    assert set(trained) <= {1, 3} and (trained == 1).any() and (trained == 3).any()
    rung = nac.oracle._rungs["1"]
    assert len(rung) == 8  # every trial reported at the 1-epoch rung
    # a trial that stopped at the rung reports exactly its rung record
    stopped = df[trained == 1].iloc[0]
    tid = str(stopped["trial_id"])
    key = next(k for k in rung if k.lstrip("0") == tid.lstrip("0") or k == tid)
    assert rung[key][0] == pytest.approx(-stopped["val_accuracy"])
    with pytest.raises(kn.ConfigError, match="fidelity"):
        kn.KerasNAC(small_space(), max_trials=3, directory=str(tmp_path / "x"), fidelity=3)
