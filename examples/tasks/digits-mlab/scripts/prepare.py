"""Create the data files of the digits-mlab task.

Run once, argument-free, from this scripts/ directory (MLAgentBench runs
`python prepare.py` with cwd = scripts/); paths are resolved relative to this
file, so any cwd works. The output is deterministic, so running it again
rewrites identical files (idempotent).

Writes:
  ../env/train.csv          id, pixel_0_0 .. pixel_7_7, label   (agent-visible)
  ../env/test_features.csv  id, pixel_0_0 .. pixel_7_7          (agent-visible)
  ./test_labels.csv         id, label   (hidden answers: outside env/)

Data: scikit-learn's bundled copy of the UCI optical handwritten digits
test set (load_digits, 1797 8x8 images, pixel values 0..16). No network.
"""
import os

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = os.path.normpath(os.path.join(HERE, "..", "env"))
SEED = 42
TEST_SIZE = 0.25


def write_csv(frame, path):
    tmp = path + ".tmp"
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def main():
    digits = load_digits()
    features = pd.DataFrame(digits.data.astype(np.int64), columns=digits.feature_names)
    labels = pd.Series(digits.target.astype(np.int64), name="label")

    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=TEST_SIZE, random_state=SEED, stratify=labels)

    # Fresh sequential ids: the original row order of load_digits cycles
    # through 0..9, so the original index would leak the label.
    train = x_train.reset_index(drop=True)
    train.insert(0, "id", np.arange(len(train)))
    train["label"] = y_train.to_numpy()

    test = x_test.reset_index(drop=True)
    test.insert(0, "id", np.arange(len(test)))
    answers = pd.DataFrame({"id": test["id"], "label": y_test.to_numpy()})

    os.makedirs(ENV, exist_ok=True)
    write_csv(train, os.path.join(ENV, "train.csv"))
    write_csv(test, os.path.join(ENV, "test_features.csv"))
    write_csv(answers, os.path.join(HERE, "test_labels.csv"))
    print(f"wrote {len(train)} training rows and {len(test)} test rows")


if __name__ == "__main__":
    main()
