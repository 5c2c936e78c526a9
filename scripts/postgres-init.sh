#!/bin/bash
# Mounted into the compose `postgres` service's /docker-entrypoint-initdb.d/: runs once, when
# the database volume is first created. The platform uses $POSTGRES_DB (created by the image);
# MLflow keeps its runs in a database of its own.
# No `set -u`/`set -e` here: the image's entrypoint sources a script that is not executable, and
# those options would then leak into it. psql's ON_ERROR_STOP makes a failure the exit status.

MLFLOW_DB="${MLFLOW_DB:-mlflow}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
SELECT 'CREATE DATABASE "${MLFLOW_DB}" OWNER "${POSTGRES_USER}"'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${MLFLOW_DB}')\gexec
SQL
