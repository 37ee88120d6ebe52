#!/usr/bin/env bash
# The example experiment, end to end. Run it through scripts/demo.sh, which builds cairn and runs
# this in a scratch copy of examples/; or by hand in a copy, with cairn on PATH.
set -euo pipefail
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "a research repo with cairn"
run git init -q .
git config user.email >/dev/null || git config user.email "demo@example.com"
git config user.name >/dev/null || git config user.name "cairn demo"
run cairn init
run python3 make_data.py

step "version the data: bytes go to the cache, a small pointer goes to git"
run cairn add data
run cat data.cairn
run git add .gitignore .cairn/config.yaml .cairn/.gitignore data.cairn params.yaml ./*.py demo.sh
run git commit -q -m "Example experiment with data tracked by cairn"
run cairn status

step "change the data: status shows what differs"
python3 - <<'PY'
import re
text = open("data/train.csv").read().splitlines(True)
text[1] = "0.0,0.0,999.0\n"
open("data/train.csv", "w").writelines(text)
PY
echo "extra" > data/notes.txt
run cairn status || true
if ! cairn status --check >/dev/null; then echo "(a pre-commit hook running 'cairn status --check' would stop here: exit 1)"; fi

step "restore it: unsaved edits are never overwritten silently"
run cairn checkout data || echo "(refused, as it should: the edits are not in the cache)"
run cairn checkout --force data
run cairn status

step "train on the restored data and version the model"
run python3 train.py
run cairn add model
run cairn status --json

step "track experiments: one run per learning rate, no code changes"
printf 'metrics.json\n' >> .gitignore
git add .gitignore model.cairn && git commit -q -m "Track the model; ignore metrics.json"
for lr in 0.01 0.05 0.2; do
    run cairn run -n "lr-$lr" -p train.lr=$lr -d data -o model -m metrics.json -- python3 train.py
done
run cairn ls
run cairn ls --filter "metrics.loss < 1 and params.train.lr >= 0.05" --sort metrics.loss
run cairn diff lr-0.01 lr-0.2
run cairn show last

step "a two-step pipeline: prepare the data, then train on it"
printf 'prepared/\nreport.txt\n' >> .gitignore
git add .gitignore && git commit -q -m "Ignore pipeline outputs"
run cairn run -n prepare -d data -o prepared -- python3 prepare.py
run cairn run -n train -d prepared -o model -m metrics.json -- python3 train.py prepared/train.csv

step "lineage: where did this model come from?"
run cairn lineage model
run cairn lineage data --downstream --depth 1

step "reproduce: re-run the training and everything upstream of it, from the records alone"
run cairn rerun train --upstream

step "a step that is not deterministic: the re-run says so"
run cairn run -n report -d model -o report.txt -- python3 report.py
if run cairn rerun report; then echo "unexpected: the report reproduced"; exit 1; else echo "(exit $?: diverged, as expected)"; fi

step "continue from the best learning rate: its model back in the work tree"
run cairn apply lr-0.2 --outputs-only
run cat model/weights.json

step "a pipeline in DVC's dvc.yaml schema: cairn repro runs what changed, each stage a recorded run"
# The pipeline owns the model from now on: its pointer goes, cairn.lock records it instead.
git rm -q model.cairn && rm -rf model prepared
cat > cairn.yaml <<'YAML'
stages:
  prepare:
    cmd: python3 prepare.py
    deps: [data, prepare.py]
    outs: [prepared]
  train:
    cmd: python3 train.py prepared/train.csv
    deps: [prepared, train.py, params.py]
    params: [train.lr, train.epochs]
    outs: [model]
    metrics:
    - metrics.json:
        cache: false
YAML
run cat cairn.yaml
run cairn dag
run cairn repro
run cairn repro
git add cairn.yaml cairn.lock .gitignore && git commit -q -m "Pipeline: prepare, train"

step "retraining: new data arrives, status names the stale stages, repro re-runs exactly those"
python3 - <<'PY'
import random
rng = random.Random(11)
with open("data/train.csv", "a") as out:
    for _ in range(500):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        out.write(f"{x1:.6f},{x2:.6f},{3 * x1 - 2 * x2 + 0.5 + rng.gauss(0, 0.1):.6f}\n")
PY
rm -f data/notes.txt
run cairn add data
run cairn status
run cairn repro
run cairn diff train~1 train
run cairn lineage model --depth 2
git add data.cairn cairn.lock && git commit -q -m "Retrain on new data"

step "back to the old value of a param: the run cache restores its model instead of training"
run cairn repro -S train.lr=0.01,0.2 -j 2 train
run cairn repro --dry-run

step "operate the model: register the pipeline's model, promote it, check new data against its training data"
run cairn model register churn train:model -m "trained by the pipeline" --alias prod
run cairn model ls
run cairn model show churn@prod
python3 - <<'PY'
# Tomorrow's data: the same shape, but x1 and x2 have moved.
rows = open("prepared/train.csv").read().splitlines()
with open("incoming.csv", "w") as out:
    out.write(rows[0] + "\n")
    for r in rows[1:]:
        x1, x2, y = r.split(",")
        out.write(f"{float(x1) + 1.5:.3f},{float(x2) * 2:.3f},{y}\n")
PY
run cairn drift prepared/train.csv --against model:churn@prod:prepared/train.csv
if run cairn drift incoming.csv --against model:churn@prod:prepared/train.csv; then
    echo "unexpected: no drift"; exit 1
else
    echo "(exit $?: drift, as a nightly 'cairn drift ... || alert' cron job would see it)"
fi

step "integrity and housekeeping"
run cairn fsck
run cairn gc --dry-run

step "seeing results: the learning-rate runs' loss curves, and one HTML page of everything"
run cairn plot lr-0.01 lr-0.05 lr-0.2 -m loss --height 12
run cairn report -o report.html --title "cairn demo"
echo "(open $PWD/report.html in a browser: one file, no network)"
step "share: runs to a bare git repository, data to a directory remote; a teammate clones, pulls and re-runs"
shared=$(mktemp -d "${TMPDIR:-/tmp}/cairn-demo-shared.XXXXXX")
git init -q --bare "$shared/origin.git"
git remote add origin "$shared/origin.git"
run cairn remote add team "$shared/data" --default
git add .cairn/config.yaml && git commit -q -m "Share data through the team's directory remote"
git push -q origin HEAD:refs/heads/main
run cairn push --all
run cairn status --remote
(
    cd "$shared"
    git clone -q -b main origin.git teammate
    cd teammate
    run cairn init
    run cairn pull
    run cairn checkout
    run cairn ls -n 3
    run cairn rerun lr-0.05
)
echo
echo "demo finished: data tracked, changed, detected, restored; model versioned; three runs recorded, filtered and"
echo "compared; a two-step pipeline traced with lineage and reproduced; a non-deterministic step caught; a dvc.yaml-style"
echo "pipeline run, retrained on new data, and one of its stages swept; its model registered, promoted and checked for drift;"
echo "runs and data shared through git and a directory remote, and re-run in a teammate's clone."
