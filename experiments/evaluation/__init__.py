"""Sealed test evaluation: a run is evaluated on its dataset version's sealed test part only when
an engineer asks, the lead approves, the project's gate deliverables are approved and its budget
has a unit left. Only an evaluation job reads sealed labels (sealed.py); only aggregates leave it."""
