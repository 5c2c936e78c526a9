"""The platform as an MLflow tracking server: MLflow's own Flask app (the REST API and served
artifacts) mounted at /mlflow/ behind the platform's API tokens and project roles.

auth.py authenticates the token, authz.py maps every MLflow endpoint the platform serves to the
experiment or run it touches and the permission it needs, server.py configures and calls MLflow's
app, proxy.py ties them together for the view."""
