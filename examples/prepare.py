"""Prepares the training data: drops rows whose target is far out of range (the outliers a data
edit may introduce), rounds to three decimals and writes prepared/train.csv. Deterministic: same
input, same bytes."""
import csv
import os

with open("data/train.csv") as f:
    rows = list(csv.DictReader(f))
kept = [r for r in rows if abs(float(r["y"])) < 10]
os.makedirs("prepared", exist_ok=True)
with open("prepared/train.csv", "w") as out:
    out.write("x1,x2,y\n")
    for r in kept:
        out.write(f"{float(r['x1']):.3f},{float(r['x2']):.3f},{float(r['y']):.3f}\n")
print(f"kept: {len(kept)}")
print(f"dropped: {len(rows) - len(kept)}")
