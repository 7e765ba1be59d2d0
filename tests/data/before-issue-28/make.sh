#!/bin/sh
# Writes the files of this folder with the backprop command as it was at 5943dcf (issue 28's review, before
# the layer kinds' work): what a user of that version holds (models, their JSON exports, checkpoints) and
# what it printed (predict, eval, info, trace). tests/test_before_issue_28.cpp checks today's command
# against them; this script is not run by the tests, as it needs the old build:
#   git worktree add --detach /tmp/old 5943dcf
#   cmake -S /tmp/old -B /tmp/old/build -DCMAKE_BUILD_TYPE=Release -DBACKPROP_BUILD_TESTS=OFF
#   cmake --build /tmp/old/build --target backprop_cli      (the command, build/backprop)
#   OLD=/tmp/old/build/backprop sh tests/data/before-issue-28/make.sh
# The inputs are kept: the *.json network files (seed.json, xor.json and xor.csv are examples/ of that commit)
# and the data, which make_data.py writes again here, the same bytes each time. Outputs are captured with
# standard error (2>&1), as the test captures them. Run again, it writes the same bytes, but for the
# checkpoints' record of each epoch's seconds.
set -eu
old=${OLD:?set OLD to the backprop command built at 5943dcf}
cd "$(dirname "$0")"
python3 make_data.py
export BACKPROP_DEVICE=cpu

# The tutorial's seed network, trained by the one-row step (batch size 1), plain SGD from the file.
"$old" train seed.json --data seed-train.csv --epochs 3 --batch-size 1 --quiet --out seed.model
"$old" export seed.model --format json --out seed.model.json
"$old" predict seed.model --data seed-input.csv > seed.predict.csv 2>&1
"$old" eval seed.model --data seed-train.csv > seed.eval.txt 2>&1
"$old" info seed.model > seed.info.txt 2>&1

# Its traces: plain, with the working, every figure as JSON, and Markdown.
"$old" trace seed.json --input 1,2,3,4 --target 1 --steps 2 --loss bce > seed.trace.txt 2>&1
"$old" trace seed.json --input 1,2,3,4 --target 1 --loss bce --expand > seed.trace-expand.txt 2>&1
"$old" trace seed.json --input 1,2,3,4 --target 1 --steps 2 --loss mse --json > seed.trace.json 2>&1
"$old" trace seed.json --input '1,2,3,4;4,3,2,1' --target '1;0' --steps 2 --format markdown > seed.trace.md 2>&1

# A classifier (relu, dropout, softmax_ce with label smoothing, adamw, cosine with warm-up, standard
# scaling, string labels), trained without interruption, and again with checkpoints: the last one
# (step 35 of 40, in the fifth epoch) is the mid-run checkpoint the test resumes.
"$old" train clf.json --data clf-train.csv --quiet --out clf.model
rm -f clf.ckpt
"$old" train clf.json --data clf-train.csv --checkpoint clf.ckpt --checkpoint-every 7 --quiet --out clf-checkpointed.model
cmp clf.model clf-checkpointed.model
rm clf-checkpointed.model
"$old" predict clf.model --data clf-input.csv > clf.predict.csv 2>&1
"$old" eval clf.model --data clf-train.csv > clf.eval.txt 2>&1
"$old" eval clf.model --data clf-train.csv --json > clf.eval.json 2>&1
"$old" info clf.model > clf.info.txt 2>&1

# A regression of two targets (tanh, sigmoid, identity, mse, nesterov with weight decay, step schedule,
# minmax scaling, a validation split, early stopping, clipping), --deterministic, checkpointed likewise.
"$old" train reg.json --data reg-train.csv --target u,v --deterministic --quiet --out reg.model
rm -f reg.ckpt
"$old" train reg.json --data reg-train.csv --target u,v --deterministic --checkpoint reg.ckpt --checkpoint-every 7 \
  --quiet --out reg-checkpointed.model
cmp reg.model reg-checkpointed.model
rm reg-checkpointed.model
"$old" predict reg.model --data reg-input.csv > reg.predict.csv 2>&1
"$old" eval reg.model --data reg-train.csv --target u,v > reg.eval.txt 2>&1
"$old" info reg.model > reg.info.txt 2>&1

# The README's xor (bce with one sigmoid output, adam), fewer epochs.
"$old" train xor.json --data xor.csv --epochs 40 --quiet --out xor.model
"$old" predict xor.model --data xor.csv > xor.predict.csv 2>&1

# uint8 features (NPY), read as value / 255; rmsprop, one_cycle, leaky_relu.
"$old" train bytes.json --data bytes-x.npy --labels bytes-y.npy --quiet --out bytes.model
"$old" predict bytes.model --data bytes-x.npy > bytes.predict.csv 2>&1
"$old" eval bytes.model --data bytes-x.npy --labels bytes-y.npy --json > bytes.eval.json 2>&1
