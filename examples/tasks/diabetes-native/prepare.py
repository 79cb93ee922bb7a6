"""Create the data files of the diabetes-native task.

Run once by the harness (task.toml `prepare`; cwd = this task folder, but
paths are resolved relative to this file, so any cwd works). The output is
deterministic, so running it again rewrites identical files (idempotent).

Writes:
  workspace/data/train.csv          id, age, sex, bmi, bp, s1..s6, target  (agent-visible)
  workspace/data/test_features.csv  id, age, sex, bmi, bp, s1..s6          (agent-visible)
  test_labels.csv                   id, target   (hidden answers: outside the workspace)

Data: scikit-learn's bundled copy of the diabetes data of Efron et al. (2004),
unscaled (load_diabetes(scaled=False)); 442 patients. No network.
"""
import os

import numpy as np
from sklearn.datasets import load_diabetes
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
    bunch = load_diabetes(as_frame=True, scaled=False)
    features, target = bunch.data, bunch.target
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=TEST_SIZE, random_state=SEED)

    # Fresh sequential ids in shuffled order (the original index is not used).
    train = x_train.reset_index(drop=True)
    train.insert(0, "id", np.arange(len(train)))
    train["target"] = y_train.to_numpy()
    test = x_test.reset_index(drop=True)
    test.insert(0, "id", np.arange(len(test)))
    answers = test[["id"]].assign(target=y_test.to_numpy())

    os.makedirs(DATA, exist_ok=True)
    write_csv(train, os.path.join(DATA, "train.csv"))
    write_csv(test, os.path.join(DATA, "test_features.csv"))
    write_csv(answers, os.path.join(HERE, "test_labels.csv"))
    print(f"wrote {len(train)} training rows and {len(test)} test rows")


if __name__ == "__main__":
    main()
