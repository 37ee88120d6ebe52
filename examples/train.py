"""Fits a linear model to a CSV file (data/train.csv, or the path given as the first argument) by
gradient descent; writes model/weights.json and metrics.json, and prints `loss: <value> (step <n>)`
lines as it goes."""
import csv
import json
import os
import sys

import params

p = params.load()["train"]
with open(sys.argv[1] if len(sys.argv) > 1 else "data/train.csv") as f:
    rows = [(float(r["x1"]), float(r["x2"]), float(r["y"])) for r in csv.DictReader(f)]

w1 = w2 = b = 0.0
n = len(rows)
for epoch in range(1, p["epochs"] + 1):
    g1 = g2 = gb = loss = 0.0
    for x1, x2, y in rows:
        err = w1 * x1 + w2 * x2 + b - y
        g1, g2, gb, loss = g1 + err * x1, g2 + err * x2, gb + err, loss + err * err
    w1 -= p["lr"] * 2 * g1 / n
    w2 -= p["lr"] * 2 * g2 / n
    b -= p["lr"] * 2 * gb / n
    if epoch % 10 == 0 or epoch == p["epochs"]:
        print(f"loss: {loss / n:.6f} (step {epoch})")

os.makedirs("model", exist_ok=True)
with open("model/weights.json", "w") as f:
    json.dump({"w1": round(w1, 6), "w2": round(w2, 6), "b": round(b, 6)}, f, indent=2)
with open("metrics.json", "w") as f:
    json.dump({"loss": round(loss / n, 6)}, f, indent=2)
print(f"model: y = {w1:.3f}*x1 + {w2:.3f}*x2 + {b:.3f}")
