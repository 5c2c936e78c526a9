#!/bin/sh
# Entry point of the compose `mlflow` service: makes sure the artifact bucket exists on MinIO,
# then runs the tracking server with its runs in Postgres and its artifacts in that bucket.
# Clients (the platform, a notebook) upload artifacts through the server (--serve-artifacts), so
# only this container holds the object-store credentials.
set -eu

: "${MLFLOW_BACKEND_STORE_URI:?set MLFLOW_BACKEND_STORE_URI}"
: "${MLFLOW_S3_ENDPOINT_URL:?set MLFLOW_S3_ENDPOINT_URL}"
MLFLOW_BUCKET="${MLFLOW_BUCKET:-mlflow}"
export MLFLOW_BUCKET

python - <<'PY'
import os
import time

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

bucket = os.environ["MLFLOW_BUCKET"]
s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
for attempt in range(30):
    try:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
            print(f"created bucket {bucket}", flush=True)
        break
    except (EndpointConnectionError, ClientError) as exc:
        print(f"object store not ready ({exc}); retrying", flush=True)
        time.sleep(2)
else:
    raise SystemExit(f"could not reach the object store to create bucket {bucket}")
PY

exec mlflow server \
    --host 0.0.0.0 \
    --port 5000 \
    --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
    --artifacts-destination "s3://${MLFLOW_BUCKET}/" \
    --serve-artifacts
