"""The facade's option parsing: what ``KerasNAC(...)`` makes of its ``cost_options``, ``screening``,
``fidelity`` and ``initial`` arguments (kept apart from ``nac`` so that the facade reads as the search).
"""

from __future__ import annotations

from . import costs
from .errors import ConfigError


def _callback_names(declared, strategy: str) -> str:
    return ", ".join(f"{type(cb).__name__}" + (f"(strategy={cb.strategy!r})" if hasattr(cb, "strategy") else "")
                     for cb, s in declared if s == strategy)


def resolve_cost_options(cost_options: dict, callbacks) -> tuple[dict, list]:
    """``cost_options`` with ``"strategy"`` taken from the callbacks' ``cost_strategy`` when it has none,
    and ``"estimator"`` chosen under ``"distributed_arithmetic"``; and the sentences saying what was
    chosen and why. Raises ConfigError for callbacks that disagree or a strategy none of them builds."""
    opts, notes = dict(cost_options), []
    declared = []
    for cb in callbacks:
        s = getattr(cb, "cost_strategy", None)
        if s is None:
            continue
        if str(s).lower() not in costs.STRATEGIES:
            raise ConfigError(f"{type(cb).__name__}.cost_strategy must be one of {costs.STRATEGIES} or None, got {s!r}.")
        declared.append((cb, str(s).lower()))
    built = sorted({s for _, s in declared})
    if "strategy" in opts:
        strategy = str(opts["strategy"]).lower()
        if strategy not in costs.STRATEGIES:
            raise ConfigError(f"cost_options['strategy'] must be one of {costs.STRATEGIES}, got {opts['strategy']!r}.")
        if built and strategy not in built:
            who = "; ".join(f"{_callback_names(declared, s)} builds {s!r} firmware" for s in built)
            raise ConfigError(
                f"cost_options['strategy']={opts['strategy']!r} ranks the search by {strategy!r} firmware, but the "
                f"post-search callbacks build other firmware ({who}). Drop cost_options['strategy'] (the costs then "
                f"describe what the callbacks build), set it to {' or '.join(repr(s) for s in built)}, or change "
                "the callbacks.")
        if len(built) > 1:
            notes.append(f"costs use strategy={strategy!r} (cost_options), the firmware of "
                         f"{_callback_names(declared, strategy)}; the other post-search callbacks build other firmware")
    elif len(built) > 1:
        who = "; ".join(f"{_callback_names(declared, s)} builds {s!r} firmware" for s in built)
        raise ConfigError(
            f"the post-search callbacks build different firmware ({who}), and the search's lut/ff/dsp costs can "
            f"describe one of them. Choose it with cost_options={{'strategy': {built[0]!r}}} (or "
            f"{' / '.join(repr(s) for s in built[1:])}), or keep callbacks that build the same firmware.")
    elif built:
        strategy = built[0]
        if strategy != "latency":  # the default is left implicit: searches made before keep their fingerprint
            opts["strategy"] = strategy
        notes.append(f"costs use strategy={strategy!r}, the firmware that {_callback_names(declared, strategy)} "
                     "builds (cost_options sets no strategy)")
    else:
        strategy = "latency"
    estimator = opts.get("estimator")
    try:
        costs.check_estimator(strategy, estimator, opts.get("sparsity"))
    except ValueError as e:
        raise ConfigError(f"cost_options: {e}") from None
    if strategy == "distributed_arithmetic" and estimator is None:
        if opts.get("sparsity") is not None:
            opts["estimator"] = "analytical"
            notes.append("lut and ff: analytical estimates (cost_options sets a sparsity, which a da4ml trace of the "
                         "actual weights cannot follow)")
        elif costs.da4ml_available():
            opts["estimator"] = "da4ml"
            notes.append("lut and ff: da_syn_lut and da_ff of each model's da4ml trace, fitted to yosys "
                         "(cost_options estimator='analytical' for the faster formulas)")
        else:
            opts["estimator"] = "analytical"
            notes.append("lut and ff: analytical estimates, da4ml is not installed (pip install 'kerasnac[da]' "
                         "for the yosys-calibrated da4ml ones)")
    elif estimator == "da4ml" and not costs.da4ml_available():
        raise ConfigError("cost_options estimator='da4ml' needs da4ml: pip install 'kerasnac[da]', or use "
                          "estimator='analytical'.")
    return opts, notes


def check_option(value, arg: str, cls_name: str):
    import kerasnac

    cls = getattr(kerasnac, cls_name)
    if value is None or value is False:
        return None
    if value is True:
        return cls()
    if isinstance(value, cls):
        return value
    raise ConfigError(f"{arg} must be True, False/None or a kerasnac.{cls_name}, got {type(value).__name__}.")


def initial_option(value):
    from .evolution import CostStratified, RandomInitial

    if value in (None, "random"):
        return RandomInitial()
    if value == "stratified":
        return CostStratified()
    if hasattr(value, "candidates") and callable(getattr(value, "choose", None)):
        return value
    raise ConfigError(f"initial must be 'random', 'stratified' or a strategy with `candidates` and `choose` "
                      f"(kerasnac.evolution.CostStratified(...)), got {value!r}.")


__all__ = ["resolve_cost_options", "check_option", "initial_option"]
