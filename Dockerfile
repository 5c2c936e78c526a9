# One image for the platform (web, workers, beat: same image, different commands), plus a small
# stage for the MLflow tracking server. `docker build .` builds the platform (the last stage).

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# --- MLflow tracking server (compose service `mlflow`) -------------------------------------
FROM base AS mlflow
ARG MLFLOW_VERSION=3.17.2
# psycopg (3) for the Postgres backend store (the URI names the driver: postgresql+psycopg://),
# boto3 for the MinIO (S3) artifact store.
RUN pip install "mlflow==${MLFLOW_VERSION}" "psycopg[binary]" boto3 \
    && useradd --system --uid 1000 --create-home mlflow
COPY scripts/mlflow-server.sh /usr/local/bin/mlflow-server.sh
USER mlflow
EXPOSE 5000
CMD ["sh", "/usr/local/bin/mlflow-server.sh"]

# --- The platform ----------------------------------------------------------------------------
FROM base AS app
# git: every project's data lives in a git + DVC repository (datasets/storage.py runs git).
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 1000 prakriya \
    && useradd --system --uid 1000 --gid prakriya --home-dir /app --shell /usr/sbin/nologin prakriya
WORKDIR /app

# Dependencies first, from pyproject.toml, so that a code change does not reinstall them. The S3
# clients are for compose's MinIO: dvc-s3 for DVC remotes, boto3 for MLflow's artifacts.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt "dvc-s3" boto3 \
    && rm /tmp/requirements.txt

COPY . .
ENV PRAKRIYA_DATA_DIR=/data \
    DJANGO_SETTINGS_MODULE=prakriya.settings \
    STATIC_ROOT=/app/static
# The code stays root-owned and read-only to the service; it writes only to the data folder.
# Static files are collected here, once per image: hashed names and their brotli and gzip copies,
# which WhiteNoise serves with immutable caching (collectstatic needs no database or secret).
RUN pip install --no-deps -e . \
    && PRAKRIYA_DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-data \
    && mkdir -p /data \
    && chown prakriya:prakriya /data
USER prakriya
EXPOSE 8000
CMD ["gunicorn", "prakriya.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
