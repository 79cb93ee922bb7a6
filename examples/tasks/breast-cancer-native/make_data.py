"""Regenerate the data files shipped with the breast-cancer-native task.

Not part of the task manifest (task.toml has no `prepare` step): the CSV
files it writes are committed. Kept so their provenance is reproducible:

    /usr/bin/python3 make_data.py     # cwd does not matter

Writes (deterministically, so re-running yields identical files):
  workspace/data/train.csv          id, 30 features, label   (agent-visible)
  workspace/data/test_features.csv  id, 30 features          (agent-visible)
  test_labels.csv                   id, label   (hidden answers: outside the workspace)

Data: scikit-learn's bundled copy of the Breast Cancer Wisconsin
(Diagnostic) data set (load_breast_cancer); label 0 = malignant, 1 = benign.
"""
import os

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "workspace", "data")
SEED = 42
TEST_SIZE = 0.25


def write_csv(frame, path):
    tmp = path + ".tmp"
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def main():
    bunch = load_breast_cancer(as_frame=True)
    features, labels = bunch.data, bunch.target.rename("label")
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=TEST_SIZE, random_state=SEED, stratify=labels)

    # Fresh sequential ids in shuffled order (the original index is not used).
    train = x_train.reset_index(drop=True)
    train.insert(0, "id", np.arange(len(train)))
    train["label"] = y_train.to_numpy()
    test = x_test.reset_index(drop=True)
    test.insert(0, "id", np.arange(len(test)))
    answers = test[["id"]].assign(label=y_test.to_numpy())

    os.makedirs(DATA, exist_ok=True)
    write_csv(train, os.path.join(DATA, "train.csv"))
    write_csv(test, os.path.join(DATA, "test_features.csv"))
    write_csv(answers, os.path.join(HERE, "test_labels.csv"))
    print(f"wrote {len(train)} training rows and {len(test)} test rows")


if __name__ == "__main__":
    main()
