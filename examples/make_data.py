"""Generates data/train.csv: y = 3*x1 - 2*x2 + 0.5 + noise, deterministic for a given seed."""
import os
import random

import params

p = params.load()["data"]
rng = random.Random(p["seed"])
os.makedirs("data", exist_ok=True)
with open("data/train.csv", "w") as out:
    out.write("x1,x2,y\n")
    for _ in range(p["rows"]):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        y = 3 * x1 - 2 * x2 + 0.5 + rng.gauss(0, p["noise"])
        out.write(f"{x1:.6f},{x2:.6f},{y:.6f}\n")
print(f"wrote data/train.csv ({p['rows']} rows)")
