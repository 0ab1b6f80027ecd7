"""Differentiable expected cost: exact E[C] of a chain of candidate layers under independent choices.

ProxylessNAS writes the expected latency as ``E[C] = sum_i p_i C_i``. Here ``C_i`` depends on the
candidate's *context* (input shape and input bit width, set by upstream choices), so the expectation
is propagated along the chain as a distribution over contexts (Markov in the stage order):

* a context is ``(shape, bits)`` of a tensor; a :class:`Dist` is a list of contexts and a
  probability vector over them;
* inside a block, choices shared by all its layers (weight/activation bits, kernel size, batchnorm,
  activation: the block *mode*) are enumerated jointly, so correlations between layers of one block
  are exact; widths per layer and the layer count are factorised;
* a unit (one candidate layer) has a static cost table ``T[mode, context, own choice, metric]``
  computed once from probes of the cost model, and a static successor map.

At run time E[C] and the output distribution are a few einsums over these numpy tables, so the cost
term is cheap and differentiable in the architecture logits.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..._keras import tf
from ._choices import joint, p_of


class Dist:
    """A distribution over contexts ``keys`` (``(shape, bits)`` tuples) with probabilities ``p``;
    inside a block ``p`` has a leading mode axis ``[M, K]``."""

    def __init__(self, keys: list, p):
        self.keys, self.p = list(keys), p


class Modes:
    """Joint enumeration of a block's shared, cost-relevant choices."""

    def __init__(self, choices: list):
        self.choices = [c for c in choices if c is not None]
        self.combos = list(itertools.product(*[c.values for c in self.choices]))

    def __len__(self):
        return len(self.combos)

    def value(self, m: int, name: str):
        for c, v in zip(self.choices, self.combos[m]):
            if c.name == name:
                return v
        raise KeyError(name)

    def probs(self, P):
        return joint(self.choices, P)[0]


class Unit:
    """Static cost table of one candidate layer given the modes, the input contexts and its own choices.

    ``fn(mode_index, key, own_values) -> (cost vector, out_key)``, calling ``prober``'s probes (run
    twice: once to collect the probes, evaluated in batches, then to read them). ``support`` ``[M, K]``
    marks the (mode, context) pairs that can occur; others are never probed.
    """

    def __init__(self, modes: Modes, keys_in: list, support_in: np.ndarray, own: list, fn, prober):
        self.own = own
        own_vals = list(itertools.product(*[c.values for c in own]))
        M, K, C = len(modes), len(keys_in), len(own_vals)
        n_metrics = len(prober.names)
        if hasattr(prober, "flush"):  # first pass: record every probe, then evaluate them in batches
            prober.collecting = True
            try:
                for m in range(M):
                    for k in range(K):
                        if support_in[m, k]:
                            for vals in own_vals:
                                fn(m, keys_in[k], vals)
            finally:
                prober.collecting = False
            prober.flush()
        T = np.zeros((M, K, C, n_metrics), dtype="float32")
        succ = {}
        out_idx = -np.ones((M, K, C), dtype=int)
        keys_out: list = []
        for m in range(M):
            for k in range(K):
                if not support_in[m, k]:
                    continue
                for c, vals in enumerate(own_vals):
                    cost, out_key = fn(m, keys_in[k], vals)
                    T[m, k, c] = cost
                    if out_key not in succ:
                        succ[out_key] = len(keys_out)
                        keys_out.append(out_key)
                    out_idx[m, k, c] = succ[out_key]
        O = np.zeros((M, K, C, len(keys_out)), dtype="float32")
        mm, kk, cc = np.nonzero(out_idx >= 0)
        O[mm, kk, cc, out_idx[mm, kk, cc]] = 1.0
        self.T, self.O, self.keys_out = tf.constant(T), tf.constant(O), keys_out
        self.support_out = O.sum(axis=2).any(axis=1) if K else np.zeros((M, 0), bool)

    def __call__(self, p_in, P):
        """``p_in [M, K]`` → (expected cost ``[M, metrics]``, output distribution ``[M, K_out]``)."""
        pc, _ = joint(self.own, P)
        cost = tf.einsum("mk,c,mkcz->mz", p_in, pc, self.T)
        p_out = tf.einsum("mk,c,mkcj->mj", p_in, pc, self.O)
        return cost, p_out


def union(keys_list: list) -> tuple[list, list]:
    """Union of several key lists and, for each, the (static) index map into the union."""
    keys, index = [], {}
    for ks in keys_list:
        for k in ks:
            if k not in index:
                index[k] = len(keys)
                keys.append(k)
    return keys, [[index[k] for k in ks] for ks in keys_list]


def scatter(p, idx, n):
    """``p [..., K]`` placed at columns ``idx`` of a ``[..., n]`` tensor."""
    m = np.zeros((len(idx), n), dtype="float32")
    m[np.arange(len(idx)), idx] = 1.0
    return tf.linalg.matmul(p, tf.constant(m)) if len(p.shape) == 2 else tf.linalg.matvec(tf.constant(m), p, transpose_a=True)


def mix(parts: list) -> Dist:
    """Mixture ``sum_i w_i * dist_i`` of ``(w, Dist)`` pairs (weights are scalars) on the union of keys."""
    keys, idx = union([d.keys for _, d in parts])
    p = 0.0
    for (w, d), ix in zip(parts, idx):
        p = p + w * scatter(d.p, ix, len(keys))
    return Dist(keys, p)


def depth_gate(layers_choice, P, n):
    """``P(L > i)`` for i < n and ``P(L = l)`` for l = 0..n, from the layer-count choice."""
    p = p_of(layers_choice, P)
    vals = layers_choice.values
    gt = [sum(p[j] for j, v in enumerate(vals) if v > i) for i in range(n)]
    eq = [sum((p[j] for j, v in enumerate(vals) if v == l), tf.zeros([])) for l in range(n + 1)]
    return gt, eq
