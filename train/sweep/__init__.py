"""``fmnist-sweep``: hyperparameter ablations and searches on an Optuna study (SQLite or PostgreSQL).

cli (options) → run (this process and its worker processes) → study (the Optuna study, the plan,
the trials) → trial (one training run, via train.fit) ; space (the hyperparameters and their
values), storage (study URLs and their errors), report and plots (sweep.md/json/png).
Siblings import each other as ``sweep_<name>`` where the bare name is a common variable
(``report``, ``space``, ``storage``).
"""
