"""Speed of the cost model: ``kerasnac.costs.evaluate`` on a 20-layer QKeras MLP.

    python benchmarks/cost_speed.py
"""

import time

import kerasnac as kn
from kerasnac._keras import keras, qkeras

inp = keras.Input((64,))
x = inp
for i in range(10):
    x = qkeras.QDense(64, kernel_quantizer="quantized_bits(6,0,alpha=1)", name=f"d{i}")(x)
    x = qkeras.QActivation("quantized_relu(6)")(x)
model = keras.Model(inp, x)
kn.costs.evaluate(model)
t0 = time.perf_counter()
for _ in range(20):
    kn.costs.evaluate(model)
print(f"costs.evaluate on 20 layers: {(time.perf_counter() - t0) / 20 * 1e3:.1f} ms per call")
