"""Baseline for the diabetes task: predict a quantitative measure of disease
progression one year after baseline from ten patient variables.

Reads data/train.csv and data/test_features.csv, prints a validation RMSE for
guidance, and writes test predictions to submission.csv in the current
directory (columns: id,target). The task's score is computed from
submission.csv by a separate evaluator.
"""
import pandas as pd
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeRegressor

SEED = 0
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]

train = pd.read_csv("data/train.csv")
test = pd.read_csv("data/test_features.csv")
X, y = train[FEATURES], train["target"]


def make_model():
    return DecisionTreeRegressor(random_state=SEED)


# Hold out part of the training data to estimate generalisation.
X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, random_state=SEED)
model = make_model().fit(X_fit, y_fit)
rmse = mean_squared_error(y_val, model.predict(X_val)) ** 0.5
print(f"validation RMSE: {rmse:.2f}")

# Refit on all training data and predict the test set.
model = make_model().fit(X, y)
submission = pd.DataFrame({"id": test["id"], "target": model.predict(test[FEATURES])})
submission.to_csv("submission.csv", index=False)
print(f"wrote submission.csv ({len(submission)} rows)")
