"""Baseline for the digits task: predict the digit (0-9) in 8x8 images.

Reads train.csv and test_features.csv, prints a validation accuracy for
guidance, and writes test predictions to submission.csv (columns: id,label).
The task's score is computed from submission.csv by a separate evaluator.
"""
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

SEED = 0

train = pd.read_csv("train.csv")
test = pd.read_csv("test_features.csv")
feature_cols = [c for c in train.columns if c.startswith("pixel_")]
X, y = train[feature_cols], train["label"]


def make_model():
    return DecisionTreeClassifier(random_state=SEED)


# Hold out part of the training data to estimate generalisation.
X_fit, X_val, y_fit, y_val = train_test_split(
    X, y, test_size=0.2, random_state=SEED, stratify=y)
model = make_model().fit(X_fit, y_fit)
print(f"validation accuracy: {accuracy_score(y_val, model.predict(X_val)):.4f}")

# Refit on all training data and predict the test set.
model = make_model().fit(X, y)
submission = pd.DataFrame({"id": test["id"], "label": model.predict(test[feature_cols])})
submission.to_csv("submission.csv", index=False)
print(f"wrote submission.csv ({len(submission)} rows)")
