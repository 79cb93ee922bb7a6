"""Score a digits-mlab submission (accuracy, higher is better).

    get_score(submission_folder) -> float
    python3 eval.py [SUBMISSION_FOLDER]   # default: ../env; prints the score
                                          # as the last line of stdout

Reads SUBMISSION_FOLDER/submission.csv (columns: id,label; one row per id of
env/test_features.csv) and the hidden answers in test_labels.csv next to this
file. A missing or malformed submission raises SubmissionError; on the
command line the message goes to stderr and the exit status is 1.
Standard library only, so any Python 3 can run it.
"""
import csv
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS_PATH = os.path.join(HERE, "test_labels.csv")
ID_COL, TARGET_COL = "id", "label"
CLASSES = set(range(10))


class SubmissionError(ValueError):
    """The submission is missing or malformed."""


def _parse_int(text, what, line):
    try:
        value = float(text)
    except ValueError:
        raise SubmissionError(f"line {line}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value != int(value):
        raise SubmissionError(f"line {line}: {what} {text!r} is not an integer")
    return int(value)


def _read_answers():
    if not os.path.isfile(LABELS_PATH):
        raise FileNotFoundError(
            f"hidden labels {LABELS_PATH} not found: run scripts/prepare.py first")
    with open(LABELS_PATH, newline="") as f:
        return {int(row[ID_COL]): int(row[TARGET_COL]) for row in csv.DictReader(f)}


def _read_submission(path, expected_ids):
    if not os.path.isfile(path):
        raise SubmissionError(f"submission file not found: {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if ID_COL not in header or TARGET_COL not in header:
            raise SubmissionError(
                f"{path}: header must contain columns '{ID_COL}' and '{TARGET_COL}', "
                f"got {header}")
        reader.fieldnames = header
        predictions = {}
        for row in reader:
            line = reader.line_num
            if row.get(ID_COL) is None or row.get(TARGET_COL) is None:
                raise SubmissionError(f"line {line}: missing value(s)")
            row_id = _parse_int(row[ID_COL].strip(), "id", line)
            pred = _parse_int(row[TARGET_COL].strip(), "label", line)
            if row_id not in expected_ids:
                raise SubmissionError(f"line {line}: unknown id {row_id}")
            if row_id in predictions:
                raise SubmissionError(f"line {line}: duplicate id {row_id}")
            if pred not in CLASSES:
                raise SubmissionError(f"line {line}: label {pred} is not a digit 0-9")
            predictions[row_id] = pred
    missing = expected_ids - predictions.keys()
    if missing:
        raise SubmissionError(
            f"{path}: {len(missing)} test id(s) have no prediction, e.g. {sorted(missing)[:5]}")
    return predictions


def get_score(submission_folder="../env"):
    answers = _read_answers()
    path = os.path.join(submission_folder, "submission.csv")
    predictions = _read_submission(path, set(answers))
    correct = sum(predictions[i] == y for i, y in answers.items())
    return correct / len(answers)


def main(argv):
    if len(argv) > 2:
        print("usage: eval.py [SUBMISSION_FOLDER]", file=sys.stderr)
        return 2
    folder = argv[1] if len(argv) == 2 else os.path.join(HERE, "..", "env")
    try:
        score = get_score(folder)
    except (SubmissionError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(score)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
