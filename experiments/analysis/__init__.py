"""Error analysis of a run, from the validation predictions its training job logged
(`predictions/validation.json`): no model is ever loaded to analyse a run.

metrics.py computes (plain functions over a Predictions), reading.py fetches a run's predictions and
the items behind them, figures.py draws the charts.
"""
