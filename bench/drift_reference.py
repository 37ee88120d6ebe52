#!/usr/bin/python3
"""What `cairn drift CURRENT --against REF` does, with pandas and SciPy (bench/drift.sh).

Reads both CSV tables with pandas, profiles each column as `cairn profile` does (missing count;
numeric: count, min, max, mean, std, the 1001 quantiles and decile bins; categorical: value
counts, distinct count), then applies the tests cairn picks for a reference of more than 1,000
rows: the Wasserstein distance normalised by the reference's std for numeric columns, the
Jensen-Shannon distance of the category shares for categorical ones. Prints one line per column.
"""
import sys

import numpy as np
import pandas as pd
from scipy import spatial, stats


def profile(df):
    out = {}
    for name in df.columns:
        col = df[name]
        values = col.dropna()
        if pd.api.types.is_numeric_dtype(col):
            v = values.to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            q = np.quantile(v, np.linspace(0, 1, 1001))
            edges = np.quantile(v, np.linspace(0, 1, 11))
            bins = np.histogram(v, edges)[0]
            out[name] = ("numeric", v, dict(count=len(v), min=v.min(), max=v.max(), mean=v.mean(),
                                            std=v.std(ddof=1), q=q, bins=bins, distinct=len(np.unique(v)),
                                            missing=int(col.isna().sum())))
        else:
            counts = values.astype(str).value_counts()
            out[name] = ("categorical", counts, dict(distinct=len(counts), missing=int(col.isna().sum())))
    return out


def main():
    ref = profile(pd.read_csv(sys.argv[1]))
    cur = profile(pd.read_csv(sys.argv[2]))
    for name, (kind, data, summary) in ref.items():
        if kind == "numeric":
            other = cur[name][1]
            score = stats.wasserstein_distance(data, other) / summary["std"]
            test = "wasserstein"
        else:
            other = cur[name][1]
            keys = sorted(set(data.index) | set(other.index))
            p = np.array([data.get(k, 0) for k in keys], dtype=float)
            r = np.array([other.get(k, 0) for k in keys], dtype=float)
            score = spatial.distance.jensenshannon(p / p.sum(), r / r.sum())
            test = "jensenshannon"
        print(f"{name}\t{kind}\t{test}\t{score:.6g}")


if __name__ == "__main__":
    main()
