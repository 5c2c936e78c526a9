"""The job kinds of the experiments app, declared once: what a Job row's `kind` holds. Their work
and registration: experiments/jobs.py (training, overfit-one-batch) and
experiments/evaluation/jobs.py (the sealed test evaluation)."""

TRAIN = "experiments_train"
OVERFIT = "experiments_overfit"
TEST_EVALUATION = "experiments_test_evaluation"
