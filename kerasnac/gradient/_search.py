"""GradientSearch: single-shot, hardware-aware supernet search over a SearchSpace (ConNAS4ML-style)."""

from __future__ import annotations

import time

import numpy as np

from .. import _data
from .._keras import keras, tf
from ..errors import ConfigError
from ..space import names
from ..space.relax import values_of
from . import _front, _landing
from ._controller import DualAscent
from ._probes import Prober, resolve_cost
from ._results import GradientResults
from ._supernet import Supernet


class GradientSearch(GradientResults):
    """Differentiable architecture search on the same :class:`~kerasnac.SearchSpace` and cost model as
    :class:`~kerasnac.KerasNAC`.

    Every searched choice of the space becomes a mixed op with architecture logits (block type and
    skip, layer count, activation, bit widths, kernel size, batchnorm, aggregation); widths use
    FBNetV2 channel masking. Weights are trained on the training split and logits on the validation
    split, alternating per batch, with Gumbel-softmax samples at an annealed temperature. The loss of
    the logit step is ``task + lam * E[cost] / C0`` (``C0``: expected cost at uniform probabilities)
    plus, in budget mode, the budget term of the controller: by default a push toward the changes of
    the argmax architecture (single ones, and pairs when no single one lands) that bring its exact cost
    into the inner half of the ``± budget_tolerance`` band around the budget (about ±4.9% at the
    default 10%, so that a change just outside the edge still counts as a miss), weighed by a gain
    μ ≥ 0 adapted by a PI controller (``budget_steering="linear"``: ``sum_k λ_k E[C_k] / B_k`` with
    λ_k adapted by dual ascent). A budget counts as landed within the full ``± budget_tolerance``.

    Args:
        space: the :class:`~kerasnac.SearchSpace`.
        cost: what to minimise: a registered table cost (``"bops"``, ``"lut"``, ``"ebops"``, ...),
            ``kn.costs.weighted(lut=1.0, ff=0.5, ...)``, a ``{name: weight}`` dict, a callable on
            one ``costs.layer_table`` row (a candidate layer's config) or ``None`` (budget only).
        budget: ``{cost name: limit}``, met by adapting one λ per entry with a PI controller (``None``: no
            budget). ``budget_mode="target"`` steers the cost *to* the budget (λ may turn
            negative when below it), ``"limit"`` only pushes it under (λ ≥ 0). ``budget_rate`` and
            ``budget_gain`` are the integral and proportional gains per architecture step;
            ``budget_feedback="argmax"`` (default) feeds the controller the exact cost of the argmax
            architecture with a dead band of ``± budget_tolerance``. ``budget_steering="band"`` (the default
            with that feedback) replaces the linear term ``λ E[C] / B`` by a push of each choice toward the
            single-choice changes of the argmax that bring its exact cost into the band, with a gain from the
            same PI controller; ``"linear"`` is the former term (see ``kerasnac.gradient._controller``).
            ``budget_lookahead=2`` scores, when no single change lands, each change by the best
            second change that can follow it (exact pair costs from the Hessian of E[C]); ``1``: single
            changes only; ``3`` (default): as 2, and in the settle phase, where no pair lands either,
            the three changes that land with the smallest summed logit deficit are pushed together
            (found exactly, see ``kerasnac.gradient._landing``). ``budget_settle`` (default 300, argmax feedback only): for a budget whose argmax
            never came within the tolerance during the epochs, up to that many further architecture
            steps after them, on that budget alone, weights frozen (the same loss and controller at
            the final temperature), stopping as soon as the argmax is in the band; ``settle_log``
            says how many each budget took. 0 disables it.
        budgets: a *front* from one supernet training: a list of budgets ``[{"bops": 2e4}, {"bops": 1e5}]``
            (the same metrics in each), ``{"bops": [2e4, 1e5, 5e5]}``, or an integer ``K`` (K budgets of
            ``cost``, log-spaced between the cheapest and the costliest architecture of the space).
            The supernet weights are shared; each budget has its own architecture logits and λ row,
            trained in turn (one budget per batch). :meth:`derive_front` then derives, fine-tunes and
            tabulates one model per budget (:meth:`front_dataframe`, :meth:`plot_front`).
        lam: fixed weight of the ``cost`` term (0 disables it; default 1, and 0 for a front, whose budgets
            set where each model lies on the cost axis).
        epochs, warmup_epochs: search epochs; during warm-up only weights train (uniformly sampled
            paths, no cost term). Default warm-up: a fifth of the epochs.
        temperature: ``(start, end)`` of the exponential Gumbel-softmax annealing. The expected cost
            uses ``softmax(logits / T)``, so it approaches the argmax architecture's cost as T falls.
        fixed: ``{hp name: value}`` pins choices (needed for the non-relaxable ones, see
            :class:`NotRelaxableError`), e.g. ``{"s1/block": "skip"}``.
        skip_dropout: dropout rate on skip paths at the start of the search, decayed linearly to 0
            (P-DARTS): the remedy against collapse to Skip, together with the warm-up.
        cost_options: options of the cost model (``input_bits``, ``reuse_factor``, ``strategy``, ...).
        finetune_epochs: epochs of training of each derived model from the supernet's weights
            (:meth:`derive`, :meth:`derive_front`). ``None`` (default): enough epochs for about 200
            optimizer steps, at least 3 and at most 10 (10 on a few thousand samples, 3 on large
            data sets); 0: none. On 4,000 toy jets the derived models were still improving after
            3 epochs (``docs/benchmarks.md``, section 6).
        output_bias: ``"mean"`` (default) starts the head's bias at the training targets' mean (a
            regression's mean target, a classifier's log class frequencies), ``None`` at zero (as
            ``KerasNAC(output_bias=...)``).

    Example:
        >>> gs = GradientSearch(space, cost=kn.costs.weighted(lut=1.0, dsp=55.0), epochs=20)  # doctest: +SKIP
        >>> gs.fit(x, y, validation_data=(xv, yv))                                          # doctest: +SKIP
        >>> model = gs.derive()                                                              # doctest: +SKIP
    """

    #: settle phase: the controller's integral gain is ``1 + steps / SETTLE_RAMP`` after ``steps`` steps
    #: outside the band (×5 after 100 steps), so its integral grows quadratically there
    SETTLE_RAMP = 25.0

    def __init__(self, space, cost="bops", budget: dict | None = None, *, budgets=None, lam: float | None = None, epochs: int = 30,
                 warmup_epochs: int | None = None, batch_size: int = 128, learning_rate: float | None = None,
                 arch_learning_rate: float = 0.01, temperature=(2.0, 0.05), fixed: dict | None = None,
                 skip_dropout: float = 0.3, budget_rate: float = 0.1, budget_gain: float = 2.0,
                 budget_mode: str = "target", budget_feedback: str = "argmax", budget_tolerance: float = 0.1,
                 budget_steering: str | None = None, budget_lookahead: int = 3, budget_settle: int = 300,
                 finetune_epochs: int | None = None,
                 cost_options: dict | None = None, seed: int = 0, verbose: int = 1, output_bias="mean"):
        _data.check_output_bias(output_bias)
        self.output_bias = output_bias
        if not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"epochs must be a positive integer, got {epochs!r}.")
        self.space, self.epochs, self.seed, self.verbose = space, epochs, int(seed), verbose
        self.warmup_epochs = max(1, epochs // 5) if warmup_epochs is None else int(warmup_epochs)
        if not 0 <= self.warmup_epochs < epochs:
            raise ConfigError(f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}.")
        if finetune_epochs is not None and (isinstance(finetune_epochs, bool) or not isinstance(finetune_epochs, int)
                                            or finetune_epochs < 0):
            raise ConfigError(f"finetune_epochs must be a non-negative integer or None (as many as "
                              f"{_front.FINETUNE_STEPS} optimizer steps take, 3 to 10), got {finetune_epochs!r}.")
        self.batch_size, self.arch_lr, self.finetune_epochs = batch_size, arch_learning_rate, finetune_epochs
        self.temperature = tuple(float(t) for t in temperature)
        self.cost_options = dict(cost_options or {})
        self.cost_name = cost if isinstance(cost, str) else getattr(cost, "__name__", "cost")
        metrics = {}
        cost_fn = resolve_cost(cost)
        if cost_fn is not None:
            metrics["cost"] = cost_fn
        # a list of budget rows (one per model of a front), or an integer K resolved after the probes
        self.budgets, self._auto_budgets = _front.check_budgets(budget, budgets, cost)
        self.budget = dict(self.budgets[0]) if self.budgets else {}
        for k in (self.budget if self.budgets else ([cost] if self._auto_budgets else [])):
            metrics[f"budget:{k}"] = resolve_cost(k, where=f"budget[{k!r}]")
        if not metrics:
            raise ConfigError("give a cost, a budget or both.")
        if lam is None:  # a front is steered by its budgets alone; otherwise the cost term weighs 1
            lam = 0.0 if (self.budgets and len(self.budgets) > 1) or self._auto_budgets else 1.0
        self.lam = float(lam) if cost_fn is not None else 0.0
        self.metrics = metrics
        self.supernet = Supernet(space, fixed)
        self.choices = self.supernet.choices
        if not self.choices.choices:
            raise ConfigError("the space (with `fixed`) has no searched choice left; there is nothing to search.")
        self.skip_dropout = float(skip_dropout)
        self._controller_args = dict(rate=budget_rate, gain=budget_gain, mode=budget_mode, feedback=budget_feedback,
                                     tolerance=budget_tolerance, steering=budget_steering, lookahead=budget_lookahead)
        try:  # bad mode/feedback/steering: raised here, before any work
            DualAscent({"cost": 1.0}, **self._controller_args)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.budget_tolerance = float(budget_tolerance)
        if isinstance(budget_settle, bool) or not isinstance(budget_settle, int) or budget_settle < 0:
            raise ConfigError(f"budget_settle must be a non-negative integer (architecture steps; 0 disables "
                              f"the settle phase), got {budget_settle!r}.")
        self.budget_settle = budget_settle
        self.controller = DualAscent(self.budgets, **self._controller_args) if self.budgets else None
        self.learning_rate = learning_rate
        self.history: list[dict] = []
        self.model = None
        self._planned = False

    # ------------------------------------------------------------------ setup
    def _plan(self):
        if self._planned:
            return
        t = time.time()
        self.prober = Prober(self.metrics, self.cost_options)
        self.supernet.plan_cost(self.prober, self.cost_options.get("input_bits", 16))
        uniform = {n: tf.ones([len(c)]) / len(c) for n, c in self.choices.choices.items()}
        e0 = self.supernet.expected_cost(uniform).numpy()
        self.metric_names = list(self.metrics)
        self.cost_ref = float(max(e0[0], 1e-9)) if "cost" in self.metrics else 1.0
        if self._auto_budgets:  # K budgets log-spaced over the space's cost range (exact one-hot costs)
            self.budgets = _front.auto_budgets(self, self._auto_budgets, self.metric_names.index(f"budget:{self.cost_name}"))
            self.budget = dict(self.budgets[0])
            self.controller = DualAscent(self.budgets, **self._controller_args)
        self.plan_seconds = time.time() - t
        self._planned = True

    def _loss_fn(self):
        if self.space.task == "regression":
            return keras.losses.MeanSquaredError()
        if self.space.label_mode == "sparse":
            return keras.losses.SparseCategoricalCrossentropy()
        return keras.losses.CategoricalCrossentropy()

    def _build_steps(self):
        sn, cs = self.supernet, self.choices
        lr = self.learning_rate or self.supernet.training_values.get(
            names.train_hp("learning_rate"), values_of(self.space.training.get("learning_rate", 1e-3))[0])
        self.w_opt = keras.optimizers.Adam(learning_rate=float(lr))
        self.a_opt = keras.optimizers.Adam(learning_rate=self.arch_lr, beta_1=0.5)
        self.tau = tf.Variable(self.temperature[0], trainable=False, name="temperature")
        self.lam_var = tf.Variable(self.lam, trainable=False, name="lambda")
        self.skip_rate = tf.Variable(self.skip_dropout, trainable=False, name="skip_dropout")
        for stage in sn.stages:
            stage.skip_rate = self.skip_rate
        self.rng = tf.random.Generator.from_seed(self.seed)
        loss_fn = self._loss_fn()
        has_cost = "cost" in self.metrics
        nb = len(self.budget)
        argmax_feedback = nb and self.controller.feedback == "argmax"
        band = nb and self.controller.steering == "band"
        choice_names = list(cs.choices)
        # one row of architecture logits per budget (a front); the supernet weights are shared
        self.bank = {n: tf.Variable(tf.zeros([max(1, len(self.budgets)), len(c)]), name=f"bank_{i}")
                     for i, (n, c) in enumerate(cs.choices.items())}
        bank = list(self.bank.values())
        if band:  # the last steering score of every value, per budget (diagnostics: which moves were pushed)
            self.steer_scores = tf.Variable(tf.zeros([max(1, len(self.budgets)), sum(len(c) for c in cs.choices.values())]),
                                            trainable=False, name="steer_scores")
            # the settle phase's three-move waypoint per budget: the values it moves to, and its exact costs
            self.waypoint_mask = tf.Variable(tf.zeros_like(self.steer_scores), trainable=False, name="waypoint_mask")
            self.waypoint_cost = tf.Variable(tf.ones([max(1, len(self.budgets)), nb]), trainable=False,
                                             name="waypoint_cost")
        xspec = tf.TensorSpec([None, *self.space.input_shape], tf.float32)
        yspec = tf.TensorSpec(None, tf.float32)
        kspec = tf.TensorSpec([], tf.int32)

        def row(k):
            return {n: tf.gather(v, k) for n, v in self.bank.items()}

        def weight_step(x, y, k):
            P = cs.probs("sample", self.tau, self.rng, logits=row(k))
            with tf.GradientTape() as tape:
                loss = loss_fn(y, sn(x, P=P, training=True))
            weights = sn.trainable_weights
            self.w_opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
            return loss

        def arch_step(x, y, k):
            if band:
                onehot = cs.probs("argmax", logits=row(k))
                here, near = sn.neighbour_costs(onehot, nb)
                near = tf.concat([near[n] for n in choice_names], 0)
                s = self.controller.steer(here, near, k)
                if self.controller.lookahead >= 2:  # the Hessian only when no single change lands
                    # with every gain at 0 (the first steps) both scores are 0: skip the Hessian then too
                    stuck = tf.logical_and(self.controller.stuck(near, k),
                                           tf.reduce_any(tf.gather(self.controller.lam, k) > 0))
                    s = tf.cond(stuck,
                                lambda: self.controller.steer(here, near, k, pairs=sn.pair_costs(onehot, nb)),
                                lambda: s)
                if self.controller.lookahead == 3:  # a settle-phase waypoint, three changes away (_landing)
                    toward = self.controller.toward(here, tf.gather(self.waypoint_cost, k), k)
                    s = tf.where(tf.gather(self.waypoint_mask, k) > 0, tf.minimum(s, toward), s)
                self.steer_scores.scatter_nd_update(tf.reshape(k, [1, 1]), s[None])
                scores = tf.split(s, [len(cs.choices[n]) for n in choice_names])
            with tf.GradientTape() as tape:
                z = row(k)
                P = cs.probs("sample", self.tau, self.rng, logits=z)
                task = loss_fn(y, sn(x, P=P, training=True))
                E = sn.expected_cost(cs.probs("soft", self.tau, logits=z))
                total = task
                if has_cost:
                    total = total + self.lam_var * E[0] / self.cost_ref
                if band:  # softmax at temperature 1: the push on an all-but-abandoned value does not vanish
                    total = total + tf.add_n([tf.reduce_sum(tf.nn.softmax(z[n]) * tf.stop_gradient(s))
                                              for n, s in zip(choice_names, scores)])
                elif nb:
                    total = total + self.controller.penalty(E[-nb:], k)
            grads = [tf.convert_to_tensor(g) for g in tape.gradient(total, bank)]
            self.a_opt.apply_gradients(zip(grads, bank))
            measured = E
            if argmax_feedback:  # the exact cost of the argmax architecture after this step
                measured = sn.expected_cost(cs.probs("argmax", logits=row(k)))
            if nb:
                self.controller.update(measured[-nb:], k)
            return task, measured

        def evaluate(x, y, k):
            return loss_fn(y, sn(x, P=cs.probs("argmax", logits=row(k)), training=False))

        # create every variable (BatchNorm, optimizer slots) before tracing, so each step traces once
        probe_x = tf.zeros([2, *self.space.input_shape])
        sn(probe_x, P=cs.probs("soft", 1.0), training=False)
        self.w_opt.build(sn.trainable_weights)
        self.a_opt.build(bank)
        self._weight_step = tf.function(weight_step, input_signature=[xspec, yspec, kspec], autograph=False)
        self._arch_step = tf.function(arch_step, input_signature=[xspec, yspec, kspec], autograph=False)
        self._evaluate = tf.function(evaluate, input_signature=[xspec, yspec, kspec], autograph=False)

    def _fits(self, errors) -> bool:
        """Relative budget errors within the tolerance (``"limit"`` mode: only over the budget counts)."""
        under_counts = self.controller.mode == "target"
        return all((abs(e) if under_counts else e) <= self.budget_tolerance for e in errors)

    def _fits_row(self, k, costs) -> bool:
        """Whether exact costs are within the tolerance of budget ``k``."""
        return self._fits([float(c) / b - 1.0 for c, b in zip(costs, self.budgets[k].values())])

    def _argmax_values(self, k) -> dict:
        """Budget ``k``'s argmax architecture."""
        return {n: c.values[int(np.argmax(self.bank[n][k].numpy()))] for n, c in self.choices.choices.items()}

    def _note_landing(self, k, argmax_costs):
        """Keep budget ``k``'s argmax architecture when its exact costs are within the tolerance."""
        if self._fits_row(k, argmax_costs):
            self.landed[k] = self._argmax_values(k)

    def select(self, k: int = 0):
        """Make budget ``k``'s architecture logits the current ones (``architecture``, ``derive``, ...)."""
        for n, c in self.choices.choices.items():
            c.logits.assign(self.bank[n][k])
        if self.budgets:
            self.budget = dict(self.budgets[k])
        self.selected = k
        return self

    # ------------------------------------------------------------------ search
    def fit(self, x, y=None, validation_data=None, validation_split: float = 0.3):
        """Search: warm-up epochs on the weights, then alternating weight / architecture steps."""
        keras.utils.set_random_seed(self.seed)
        data = _data.prepare(self.space, x, y, validation_data, validation_split, self.batch_size, self.seed)
        train, val, val_arrays = data.train(self.batch_size if data.has_arrays else None), data.val(), data.validation
        _data.configure_space(self.space, data, self.output_bias)
        if not hasattr(self, "_weight_step"):  # a supernet not trained yet: its head starts at the space's bias
            self.supernet.head.init_bias(self.space.head_bias())
        if isinstance(val_arrays, tuple):
            xv, yv = val_arrays
            arch_ds = (tf.data.Dataset.from_tensor_slices((xv, yv)).shuffle(len(xv), seed=self.seed)
                       .repeat().batch(self.batch_size))
        else:
            arch_ds = val_arrays.repeat()
        self._train, self._val = train, val
        self._plan()
        if not hasattr(self, "_weight_step"):
            self._build_steps()
        arch_iter = iter(arch_ds)
        t0, t1 = self.temperature
        n_anneal = max(1, self.epochs - self.warmup_epochs - 1)
        n_rows = max(1, len(self.budgets))
        landing = self.controller is not None and self.controller.feedback == "argmax"
        self.landed = [None] * n_rows  # per budget: the last argmax architecture of the search within tolerance
        step = 0
        for epoch in range(self.epochs):
            start = time.time()
            searching = epoch >= self.warmup_epochs
            k = epoch - self.warmup_epochs
            tau = t0 * (t1 / t0) ** (min(max(k, 0), n_anneal) / n_anneal) if searching else t0
            self.tau.assign(tau)
            self.skip_rate.assign(self.skip_dropout * max(0.0, 1.0 - epoch / self.epochs))
            losses, arch_losses = [], []
            for xb, yb in train:
                b = tf.constant(step % n_rows, tf.int32)  # the budgets of a front take turns, one per batch
                step += 1
                losses.append(float(self._weight_step(xb, tf.cast(yb, tf.float32), b)))
                if searching:
                    xa, ya = next(arch_iter)
                    task, measured = self._arch_step(xa, tf.cast(ya, tf.float32), b)
                    arch_losses.append(float(task))
                    if landing:
                        self._note_landing(int(b), measured.numpy()[-len(self.budget):])
            b = tf.constant(epoch % n_rows, tf.int32)  # a front logs one budget's argmax model per epoch
            val_loss = float(np.mean([float(self._evaluate(xb, tf.cast(yb, tf.float32), b)) for xb, yb in val]))
            self._log(epoch, searching, np.mean(losses), arch_losses, val_loss, time.time() - start)
        self.settle_log = self._settle(arch_iter) if landing and self.budget_settle else []
        self.search_expected = self.select(0).expected_costs()
        self.front_expected = [self.select(k).expected_costs() for k in range(n_rows)]
        self.select(0)
        return self

    def _settle(self, arch_iter) -> list[dict]:
        """The settle phase: further architecture steps (weights frozen) for each budget whose argmax
        never came within the tolerance, until it does or ``budget_settle`` steps have run.

        Why: the scheduled epochs give a budget of a K-budget front 1/K of the architecture steps, and a
        move the controller has already found can be a fraction of a logit short when they end
        (``docs/benchmarks.md``, section 6). The steps are the search's own (same loss, controller and
        Gumbel samples at the final temperature), so what they deliver is still the argmax of the
        search's logits, not a repair."""
        out = []
        size = len(self.budget)
        for k, landed in enumerate(self.landed):
            if landed is not None:
                continue
            b, steps, waypoints, seen = tf.constant(k, tf.int32), 0, 0, None
            while self.landed[k] is None and steps < self.budget_settle:
                if self.controller.lookahead == 3:
                    here = self._argmax_values(k)
                    if here != seen:  # a new argmax: a new waypoint, if it takes three changes to land
                        seen, waypoints = here, waypoints + self._set_waypoint(k, here)
                # the integral gain grows with the steps spent outside the band: the push of a move that
                # the task loss holds off keeps growing until it wins (docs/benchmarks.md, section 6)
                self.controller.boost.assign(1.0 + steps / self.SETTLE_RAMP)
                xa, ya = next(arch_iter)
                _, measured = self._arch_step(xa, tf.cast(ya, tf.float32), b)
                self._note_landing(k, measured.numpy()[-size:])
                steps += 1
            self.controller.boost.assign(1.0)
            if self.controller.lookahead == 3:
                self.waypoint_mask.scatter_nd_update([[k]], tf.zeros([1, self.waypoint_mask.shape[1]]))
            out.append({"budget": k, "steps": steps, "landed": self.landed[k] is not None, "waypoints": waypoints})
            if self.verbose:
                print(f"settle: budget {k} {'within tolerance' if out[-1]['landed'] else 'still outside tolerance'} "
                      f"after {steps} architecture steps")
        return out

    def _set_waypoint(self, k: int, values: dict) -> int:
        """Budget ``k``'s waypoint from the argmax ``values``: the landing triple of ``_landing`` (1), or
        none (0: a single change or a pair lands, which the traced look-ahead handles, or no triple does)."""
        logits = {n: self.bank[n][k].numpy() for n in self.choices.choices}
        found = _landing.landing_triple(self.supernet, values, logits, lambda c: self._fits_row(k, c), len(self.budget))
        mask = np.zeros([1, self.waypoint_mask.shape[1]], "float32")
        if found is not None:
            mask[0] = _landing.waypoint_mask(self.choices.choices, found[0])
            self.waypoint_cost.scatter_nd_update([[k]], np.asarray(found[1], "float32")[None])
        self.waypoint_mask.scatter_nd_update([[k]], mask)
        return int(found is not None)

    def _log(self, epoch, searching, loss, arch_losses, val_loss, seconds):
        n_rows = max(1, len(self.budgets))
        row = {"epoch": epoch, "phase": "search" if searching else "warmup", "loss": float(loss),
               "arch_loss": float(np.mean(arch_losses)) if arch_losses else np.nan, "val_loss_argmax": val_loss,
               "temperature": float(self.tau.numpy()), "lambda": self.lam}
        if n_rows > 1:
            row["val_loss_budget"] = epoch % n_rows
        for k in range(n_rows):  # a front: one set of columns per budget, suffixed @k
            at = "" if n_rows == 1 else f"@{k}"
            self.select(k)
            E = self.expected_costs()
            row.update({("expected_cost" if m == "cost" else f"expected_{m.split(':', 1)[1]}") + at: v
                        for m, v in E.items()})
            row.update({f"argmax_{m.split(':', 1)[1]}{at}": v for m, v in self.expected_costs("argmax").items()
                        if m != "cost"})
            if self.controller is not None:
                row.update({f"lambda_{m}{at}": v for m, v in self.controller.values(k).items()})
            for name, p in self.choices.numpy_probs(self.tau.numpy()).items():
                for v, pi in zip(self.choices.choices[name].values, p):
                    row[f"p[{name}={v}]{at}"] = float(pi)
        self.select(0)
        row["seconds"] = seconds
        self.history.append(row)
        if self.verbose:
            extra = " ".join(f"{k}={v:.4g}" for k, v in row.items() if k.startswith(("expected", "lambda_")))
            print(f"epoch {epoch + 1}/{self.epochs} [{row['phase']}] loss={row['loss']:.4f} "
                  f"val_loss(argmax)={val_loss:.4f} T={row['temperature']:.3f} {extra} ({seconds:.1f}s)")
