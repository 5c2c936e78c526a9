import io, json, time, cProfile, pstats
import numpy as np
import pytest
from deployments import services
from deployments.serving import log
from deployments.wsgi import PredictFastPath
from tests.deployments.serving_helpers import benchmarked, served_export
pytestmark = pytest.mark.django_db(transaction=True)

def test_profile(project, lead, settings):
    from django.db import connection
    connection.settings_dict["CONN_MAX_AGE"] = 60
    export = served_export(project, seed=0); benchmarked(export, inside=True)
    d = services.deployment_create(project=project, actor=lead, name="api", export=export)
    _, secret = services.key_create(deployment=d, actor=lead, name="k")
    body = json.dumps({"inputs": [np.arange(64).astype(float).tolist()]}).encode()
    app = PredictFastPath(lambda e, s: [b""])
    log.FLUSH_SECONDS = 1000
    def call():
        env = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/api/projects/{project.slug}/deployments/{d.slug}/predict/",
               "HTTP_X_DEPLOYMENT_KEY": secret, "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http"}
        out = {}
        b = app(env, lambda s, h: out.setdefault("s", s))
        assert out["s"].startswith("200"), b
    for _ in range(200): call()
    log.buffer.flush()
    n = 3000
    t = time.process_time()
    for _ in range(n): call()
    print("\nCPU us/req (no flush)", (time.process_time() - t) / n * 1e6)
    t = time.process_time()
    log.buffer.flush()
    print("flush CPU us/row", (time.process_time() - t) / n * 1e6)
    pr = cProfile.Profile(); pr.enable()
    for _ in range(2000): call()
    pr.disable()
    log.buffer.discard()
    pstats.Stats(pr).sort_stats("tottime").print_stats(30)
