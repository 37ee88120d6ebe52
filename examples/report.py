"""Writes report.txt about the trained model, stamped with the time it was written: a step that is
not deterministic, to show what `cairn rerun` says about one."""
import json
import time

with open("model/weights.json") as f:
    weights = json.load(f)
with open("report.txt", "w") as out:
    out.write(f"generated at {time.time():.6f}\n")
    for k, v in sorted(weights.items()):
        out.write(f"{k} = {v}\n")
