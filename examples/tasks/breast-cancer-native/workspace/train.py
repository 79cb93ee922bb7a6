"""Baseline for the breast-cancer task: classify tumours as malignant (0)
or benign (1) from 30 numeric measurements of cell nuclei.

Reads data/train.csv and data/test_features.csv, prints a validation accuracy
for guidance, and writes test predictions to submission.csv in the current
directory (columns: id,label). The task's score is computed from
submission.csv by a separate evaluator.
"""
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

SEED = 0

# A small, hand-picked set of texture/shape features.
FEATURES = ["mean texture", "mean smoothness", "mean symmetry"]

train = pd.read_csv("data/train.csv")
test = pd.read_csv("data/test_features.csv")
X, y = train[FEATURES], train["label"]


def make_model():
    return LogisticRegression(max_iter=1000)


# Hold out part of the training data to estimate generalisation.
X_fit, X_val, y_fit, y_val = train_test_split(
    X, y, test_size=0.2, random_state=SEED, stratify=y)
model = make_model().fit(X_fit, y_fit)
print(f"validation accuracy: {accuracy_score(y_val, model.predict(X_val)):.4f}")

# Refit on all training data and predict the test set.
model = make_model().fit(X, y)
submission = pd.DataFrame({"id": test["id"], "label": model.predict(test[FEATURES])})
submission.to_csv("submission.csv", index=False)
print(f"wrote submission.csv ({len(submission)} rows)")
