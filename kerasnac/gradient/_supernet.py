"""The supernet of a SearchSpace: one relaxed stage per stage of the space, then the head."""

from __future__ import annotations

import numpy as np

from .._keras import keras, tf
from ..space import HEAD_QUANT_KEYS, Quant, get_block, names
from ..space.relax import (ChoiceSet, Dist, Modes, NotRelaxableError, QuantMix, Unit, canvas_rows, is_searched, mix,
                           p_of, pad_channels, values_of)


class Stage(keras.layers.Layer):
    """A stage: a mixed op over its block types (skip included), outputs padded to one canvas."""

    def __init__(self, st: dict, cs: ChoiceSet, in_shape: tuple, where: str, exact_in: bool = True, **kw):
        super().__init__(name=st["name"], **kw)
        self.stage_name = st["name"]
        types = list(st["blocks"])
        self.block_c = cs.declare(names.block_hp(self.stage_name), types if len(types) > 1 else types[0], where)
        self.blocks = {}
        for t in self.block_c.values:
            rank, block = len(in_shape), get_block(t)
            if rank not in block.input_ranks:
                raise NotRelaxableError(f"{where}: block {t!r} cannot take a rank-{rank} input here; fix {self.block_c.name}.")
            # each block type declares its own relaxation (Block.relax / Block.relaxation, in its file)
            self.blocks[t] = block.relax(self.stage_name, st["blocks"][t], cs, in_shape, f"{where}.{t}", exact_in=exact_in)
        self.exact_out = all(b.exact_out for b in self.blocks.values())
        shapes = [b.out_shape for b in self.blocks.values()]
        if len({len(s) for s in shapes}) > 1 or len({s[:-1] for s in shapes}) > 1:
            raise NotRelaxableError(
                f"{where}: the block types {list(self.blocks)} give outputs of different shapes {shapes} (e.g. an mlp "
                f"that flattens next to a skip), which a weighted sum cannot mix. Fix {self.block_c.name}.")
        self.out_shape = shapes[0][:-1] + (max(s[-1] for s in shapes),)

    def out_region(self, region, P):
        if len(self.out_shape) < 2:
            return None
        region = tf.ones(self.blocks[self.block_c.values[0]].in_shape[:-1]) if region is None else region
        p = p_of(self.block_c, P)
        parts = [self.blocks[t].out_region(region, P) for t in self.block_c.values]
        if any(r is None for r in parts):
            return None
        return tf.add_n([p[i] * r for i, r in enumerate(parts)])

    def call(self, x, P, training=None, region=None):
        if len(self.blocks) == 1:
            (b,) = self.blocks.values()
            return pad_channels(b(x, P=P, training=training, region=region), self.out_shape[-1])
        p = p_of(self.block_c, P)
        outs = []
        for i, t in enumerate(self.block_c.values):
            y = self.blocks[t](x, P=P, training=training, region=region)
            rate = getattr(self, "skip_rate", None)
            if t == "skip" and training and rate is not None:
                y = tf.nn.dropout(y, rate=rate)  # P-DARTS: weights may not lean on the skip path early
            outs.append(p[i] * pad_channels(y, self.out_shape[-1]))
        return tf.add_n(outs)

    def plan(self, keys, prober):
        for b in self.blocks.values():
            b.plan(keys, prober)
        return self

    def cost(self, dist, P):
        p = p_of(self.block_c, P)
        parts, total = [], 0.0
        for i, t in enumerate(self.block_c.values):
            c, d = self.blocks[t].cost(dist, P)
            total = total + p[i] * c
            parts.append((p[i], d))
        return total, mix(parts)


class Head(keras.layers.Layer):
    """Flatten → QDense(n_out) with mixed weight bits → softmax (classification)."""

    def __init__(self, space, cs: ChoiceSet, in_shape: tuple, **kw):
        super().__init__(name=names.HEAD, **kw)
        self.space, self.in_shape = space, tuple(in_shape)
        self.n_out = space.head_units
        self.qm = QuantMix(cs, names.HEAD, space.head_quant, names.HEAD, keys=HEAD_QUANT_KEYS)
        self.kernel = self.add_weight("kernel", (int(np.prod(self.in_shape)), self.n_out), initializer="lecun_uniform")
        self.bias = self.add_weight("bias", (self.n_out,), initializer="zeros")

    def init_bias(self, bias) -> None:
        """Start the bias at ``bias`` (``SearchSpace.head_bias()``, e.g. a regression's target mean), clipped to
        the range of the narrowest bias width searched, so every derived head can represent it; None: zeros."""
        if bias is None:
            return
        q = self.space.head_quant
        narrowest = Quant(weight_bits=min(values_of(q["weight_bits"])), weight_integer=min(values_of(q["weight_integer"])),
                          bias_bits=None if q.get("bias_bits") is None else min(values_of(q["bias_bits"])))
        self.bias.assign(np.asarray(narrowest.clip_bias(bias), dtype="float32"))

    def call(self, x, P, training=None):
        if len(x.shape) > 2:
            x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
        y = tf.matmul(x, self.qm.kernel(self.kernel, P)) + self.qm.bias(self.bias, P)
        return tf.nn.softmax(y) if self.space.task == "classification" else y

    def plan(self, keys, prober):
        self.modes = Modes([])
        classification = self.space.task == "classification"

        def build(x, name):
            if len(x.shape) > 2:
                x = keras.layers.Flatten(name=names.layer_name(name, "flatten"))(x)
            x = Quant(weight_bits=8).dense(self.n_out, name=names.layer_name(name, "dense"))(x)
            return keras.layers.Activation("softmax", name=names.layer_name(name, "softmax"))(x) if classification else x

        def fn(m, key, own):
            (wb,) = own
            cost, _ = prober.layers(names.HEAD, key[0], key[1], build, wb=wb)
            return cost, ("out",)

        self.unit = Unit(self.modes, keys, np.ones((1, len(keys)), bool), [self.qm.wb], fn, prober)
        return self

    def cost(self, dist, P):
        c, _ = self.unit(dist.p[None, :], P)
        return c[0]

    def export(self, model, values):
        layer = model.get_layer(names.HEAD_DENSE)
        flat = model.get_layer(names.HEAD_FLATTEN).input_shape[1:] \
            if names.HEAD_FLATTEN in [l.name for l in model.layers] else layer.input_shape[1:]
        rows = canvas_rows(flat, self.in_shape)
        layer.set_weights([tf.gather(self.kernel, rows).numpy(), self.bias.numpy()])


class Supernet:
    """All stages and the head of ``space`` as mixed ops over a :class:`ChoiceSet`.

    ``fixed``: ``{hp name: value}`` for choices to pin (needed for those that are not relaxable).
    """

    def __init__(self, space, fixed: dict | None = None):
        self.space = space
        self.choices = ChoiceSet(fixed)
        shape = tuple(space.input_shape)
        self.stages = []
        exact = True
        for i, st in enumerate(space.stages):
            stage = Stage(st, self.choices, shape, f"{space.source}: stages[{i}] ({st['name']})", exact_in=exact)
            self.stages.append(stage)
            shape, exact = stage.out_shape, stage.exact_out
        self.head = Head(space, self.choices, shape)
        self.training_values = {}
        for key, spec in space.training.items():
            name = names.train_hp(key)
            if name in self.choices.fixed:
                self.choices.used_fixed.add(name)
                self.training_values[name] = self.choices.fixed[name]
            elif is_searched(spec):
                self.training_values[name] = values_of(spec)[0]
        self.choices.check_fixed_used()
        self._plan = None

    @property
    def layers(self):
        return self.stages + [self.head]

    def hp_values(self, values: dict) -> dict:
        """Complete hyperparameter values of the space for the choice ``values`` (plus the user's
        ``fixed`` values and the training values), as ``space.model_from_values`` takes them."""
        return self.space.complete_values({**self.choices.fixed, **values, **self.training_values})

    def __call__(self, x, P, training=None):
        region = None
        for stage in self.stages:
            x, region = stage(x, P=P, training=training, region=region), stage.out_region(region, P)
        return self.head(x, P=P, training=training)

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    # ------------------------------------------------------------------ expected cost
    def plan_cost(self, prober, input_bits=16):
        """Probe every candidate in every reachable context (once); afterwards :meth:`expected_cost`."""
        keys = [(tuple(self.space.input_shape), float(input_bits))]
        self.stage_keys = [keys]
        for stage in self.stages:
            stage.plan(keys, prober)
            keys = self._out_keys(stage, keys)
            self.stage_keys.append(keys)
        self.head.plan(keys, prober)
        self.prober = prober
        self._plan = True
        return self

    def _out_keys(self, stage, keys):
        # run the cost once with uniform probabilities to learn the static output key list
        P = {n: tf.ones([len(c)]) / len(c) for n, c in self.choices.choices.items()}
        _, d = stage.cost(Dist(keys, tf.ones([len(keys)]) / len(keys)), P)
        return d.keys

    def expected_cost(self, P):
        """Expected cost vector (one entry per metric of the prober) under probabilities ``P``."""
        dist = Dist(self.stage_keys[0], tf.ones([1]))
        total = 0.0
        for stage in self.stages:
            c, dist = stage.cost(dist, P)
            total = total + c
        return total + self.head.cost(dist, P)

    def neighbour_costs(self, onehot: dict, last: int = 1):
        """Exact costs (the ``last`` metrics) of the one-hot architecture ``onehot`` and of each of its
        single-choice changes: ``(C [metrics], {choice: [values, metrics]})``, the row of the value
        the architecture has being ``C`` itself.

        E[C] is linear in each choice's probability vector (every choice enters each product of the
        chain of einsums once), so with ``g = ∂E[C]/∂P`` at the one-hot point, changing choice ``n``
        from ``a`` to ``v`` costs exactly ``C + g_n[v] − g_n[a]``: one gradient per metric instead of
        one cost evaluation per neighbour (``tests/test_gradient_front.py`` checks it on every change)."""
        names_ = list(onehot)
        ps = [tf.convert_to_tensor(onehot[n]) for n in names_]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(ps)
            C = self.expected_cost(dict(zip(names_, ps)))[-last:]
            parts = [C[j] for j in range(last)]
        cols = [[] for _ in ps]
        for j in range(last):
            grads = tape.gradient(parts[j], ps, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            for i, (g, p) in enumerate(zip(grads, ps)):
                cols[i].append(C[j] + g - tf.reduce_sum(g * p))
        del tape
        return C, {n: tf.stack(c, axis=-1) for n, c in zip(names_, cols)}

    def pair_costs(self, onehot: dict, last: int = 1):
        """Exact costs ``[D, D, metrics]`` of every change of two choices of the one-hot ``onehot`` at
        once (``D``: all values of all choices, in ``onehot``'s order; entry ``[r, s]`` changes the
        choice of value ``r`` to ``r`` and that of ``s`` to ``s``; two values of one choice give the
        single change to ``r``, so the diagonal holds the single changes).

        E[C] is multilinear, so with the flips ``f_r = e_r − onehot`` of a choice and the Hessian ``H``
        at the one-hot point, ``C_rs = C_r + C_s − C + f_r H f_s`` exactly: ``last`` Jacobians of a
        gradient (one backward pass per value), computed only when the budget steering needs them."""
        names_ = list(onehot)
        sizes = [int(onehot[n].shape[0]) for n in names_]
        flat = tf.concat([tf.convert_to_tensor(onehot[n]) for n in names_], 0)
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(flat)
            with tf.GradientTape(persistent=True) as inner:
                inner.watch(flat)
                C = self.expected_cost(dict(zip(names_, tf.split(flat, sizes))))[-last:]
                parts = [C[j] for j in range(last)]
            grads = [inner.gradient(parts[j], flat, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                     for j in range(last)]
        hessians = [outer.jacobian(g, flat, unconnected_gradients=tf.UnconnectedGradients.ZERO) for g in grads]
        del inner, outer
        owner = tf.repeat(tf.range(len(sizes)), sizes)  # the choice of each value
        same = tf.cast(tf.equal(owner[:, None], owner[None, :]), flat.dtype)  # [D, D]
        flips = tf.eye(tf.size(flat), dtype=flat.dtype) - same * flat[None, :]  # row r: e_r − the one-hot of r's choice
        out = []
        for j in range(last):
            single = C[j] + flips @ grads[j][:, None]  # [D, 1]
            pair = single + tf.transpose(single) - C[j] + flips @ hessians[j] @ tf.transpose(flips)
            out.append(same * single + (1.0 - same) * pair)  # same choice: only r's change counts
        return tf.stack(out, axis=-1)

    # ------------------------------------------------------------------ derive
    def export(self, model, values: dict):
        for stage in self.stages:
            t = values.get(stage.block_c.name, stage.block_c.values[0])
            stage.blocks[t].export(model, values, None)
        self.head.export(model, values)
