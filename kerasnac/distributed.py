"""Distributed search on keras-tuner's own chief/worker engine (gRPC).

One process is the *chief*: it holds the :class:`~kerasnac.oracle.ParetoOracle`, writes the
results table and the front, and runs no trials. Every other process is a *worker*: it asks the
chief for a trial, trains it and reports every objective and cost back as float metrics (only
float metrics cross the wire). All processes run the **same** script or ``kerasnac search
CONFIG.yaml``; the role comes from keras-tuner's environment variables:

======================== ==============================================================
``KERASTUNER_TUNER_ID``  ``chief`` on the chief; a unique id per worker (``worker0`` ...)
``KERASTUNER_ORACLE_IP`` address the chief listens on and workers connect to
``KERASTUNER_ORACLE_PORT`` its port
======================== ==============================================================

kerasnac adds (all optional):

``KERASNAC_HEARTBEAT`` (default 10 s)
    a worker pings the chief this often during a trial.
``KERASNAC_WORKER_TIMEOUT`` (default 300 s)
    the chief re-queues the trial of a worker silent for this long (a killed worker or a dead
    node); another worker re-runs it. Keep it well above ``KERASNAC_HEARTBEAT``.
``KERASNAC_CONNECT_TIMEOUT`` (default 3600 s, keras-tuner's value)
    how long a worker waits for the chief to answer before it gives up.

The chief and the workers must share the search directory (a shared filesystem): workers save
each trial's weights in ``trial_<id>/`` for the chief's local stage, callbacks and
``kerasnac export``. The gRPC channel is not encrypted: run it inside a trusted cluster network.
"""

from __future__ import annotations

import os
import threading
import time

from ._keras import kt
from .errors import ConfigError

ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
ENV_HEARTBEAT, ENV_TIMEOUT, ENV_CONNECT = "KERASNAC_HEARTBEAT", "KERASNAC_WORKER_TIMEOUT", "KERASNAC_CONNECT_TIMEOUT"
POLL_SECONDS = 1.0  # how often an idle worker asks again, and the chief checks for lost workers


def role() -> str:
    """``"single"`` (no chief/worker variables), ``"chief"`` or ``"worker"``."""
    if ENV_IP not in os.environ:
        return "single"
    missing = [k for k in (ENV_PORT, ENV_ID) if not os.environ.get(k)]
    if missing:
        raise ConfigError(f"{ENV_IP} is set but {' and '.join(missing)} not. For a distributed search set "
                          f"{ENV_ID} (chief or a worker id), {ENV_IP} and {ENV_PORT} on every process; "
                          f"for a single-process search unset {ENV_IP}.")
    port = os.environ[ENV_PORT]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{ENV_PORT}={port!r} is not a port number (1..65535).")
    return "chief" if "chief" in os.environ[ENV_ID] else "worker"


def tuner_id() -> str:
    return os.environ.get(ENV_ID, "tuner0")


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{name}={text!r}: expected a positive number of seconds.")
    return value


def heartbeat_seconds() -> float:
    return _seconds(ENV_HEARTBEAT, 10.0)


def worker_timeout() -> float:
    return _seconds(ENV_TIMEOUT, 300.0)


def configure_worker() -> None:
    """Apply ``KERASNAC_CONNECT_TIMEOUT`` to keras-tuner's gRPC client."""
    from keras_tuner.src.distribute import oracle_client  # after kerasnac._keras bound keras-tuner

    oracle_client.TIMEOUT = _seconds(ENV_CONNECT, float(oracle_client.TIMEOUT))
    _quiet_condition_protos()


def _quiet_condition_protos() -> None:
    """keras-tuner 1.4.8's ``conditions.Parent.to_proto`` prints a stray debug line per condition on
    every gRPC message; the same conversion without the print."""
    from keras_tuner.src import protos
    from keras_tuner.src.engine import conditions

    if getattr(conditions.Parent.to_proto, "_kerasnac_quiet", False):
        return

    def to_proto(self):
        first = self.values[0]
        kind = ("string_value" if isinstance(first, str) else "boolean_value" if isinstance(first, bool)
                else "int_value" if isinstance(first, int) else "float_value")
        proto = protos.get_proto()
        values = [proto.Value(**{kind: v}) for v in self.values]
        return proto.Condition(parent=proto.Condition.Parent(name=self.name, values=values))

    to_proto._kerasnac_quiet = True
    conditions.Parent.to_proto = to_proto


@kt.synchronized
def _finished(oracle) -> bool:
    return not oracle.ongoing_trials and not oracle.tuner_ids


def serve(oracle, poll: float = POLL_SECONDS, *, address: str | None = None, on_start=None, watch=None) -> None:
    """Serve ``oracle`` to the workers until the search is over (replaces keras-tuner's
    ``oracle_chief.start_server``, which waits forever for a worker that died and polls only
    every 20 s). Lost workers' trials are re-queued (see ``ParetoOracle.reap_lost_workers``).

    ``address`` (``"host:port"``; port 0 picks a free one) replaces the chief/worker variables;
    ``on_start(port)`` runs once the server listens (e.g. to start local workers on that port);
    ``watch()`` runs at every poll while the search is not over (it may raise to end serving).
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    _quiet_condition_protos()
    if address is None:
        address = f"{os.environ[ENV_IP]}:{os.environ[ENV_PORT]}"
    oracle.worker_timeout = worker_timeout()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise ConfigError(f"the chief cannot listen on {address}: the address is not local or the port is in use. "
                          f"Set {ENV_IP} to this machine's address and {ENV_PORT} to a free port.")
    oracle._serving = True
    server.start()
    try:
        if on_start is not None:
            on_start(bound)
        while True:
            time.sleep(poll)
            oracle.reap_lost_workers()
            if (servicer.stop_triggered or oracle.stop_message is not None) and _finished(oracle):
                break
            if watch is not None:
                watch()
    finally:
        server.stop(grace=2.0)
        oracle._serving = False


class Heartbeat:
    """A worker thread that calls ``oracle.get_trial(trial_id)`` every few seconds during a trial,
    so the chief knows the worker is alive. RPC errors are ignored (the main thread sees them)."""

    def __init__(self, oracle, trial_id: str, interval: float | None = None):
        self.oracle, self.trial_id = oracle, trial_id
        self.interval = heartbeat_seconds() if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kerasnac-heartbeat-{trial_id}", daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.oracle.get_trial(self.trial_id)
            except Exception:  # noqa: BLE001 - the chief may be busy or gone; the trial itself reports that
                pass

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


__all__ = ["role", "tuner_id", "serve", "Heartbeat", "heartbeat_seconds", "worker_timeout", "configure_worker"]
