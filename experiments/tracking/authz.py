"""Which MLflow endpoints the platform serves, and what each one needs.

The idea is mlflow/server/auth's (a check per endpoint, keyed by its route), on the platform's
own rules: every request is resolved to the experiment, run, logged model or artifact path it
touches, that to its project, and the project to the caller's role (experiments.selectors):

- read (get, search, metric history, artifact download): anyone with a token on a public
  project; leads, engineers and viewers on a private one;
- write (create runs, log, tag, upload artifacts): leads and engineers (LAUNCH_JOBS);
- a private project the caller cannot see is answered like an id that does not exist (404);
- runs made by the platform's own jobs are read-only here; nothing is deleted through here;
- the only experiment a client may create is its project's own (named by the project's slug);
- every endpoint not listed below (model registry, traces, gateway, GraphQL, jobs, webhooks,
  workspaces, deletions) is refused.

Routes are matched with MLflow's own URL map and parameters are read the way its handlers read
them (query string for a GET with one, JSON body otherwise; both spellings of a field name), so
the id that is checked is the id the handler acts on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from experiments import mlflow_store, selectors
from experiments.models import Run, RunSource
from experiments.tracking import errors
from projects import policy
from projects.models import Project

# What a call needs of the project it touches: the policy's two actions on runs.
READ = policy.VIEW_RUNS
WRITE = policy.LOG_RUNS

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"

_EXPERIMENT_ID = re.compile(r"[0-9]{1,19}")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MODEL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_NAME = 500
_MAX_IDS = 1000


@dataclass
class Call:
    """One request to the tracking server, as MLflow's handler will see it."""

    user: AbstractBaseUser
    method: str
    rule: str
    view_args: dict[str, Any]
    args: Any  # werkzeug MultiDict of the query string
    body: Any  # the parsed JSON body ({} when empty)

    @property
    def _from_query(self) -> bool:
        # MLflow's _get_request_message: a GET with a query string reads it, anything else the body.
        return self.method == "GET" and bool(self.args)

    def one(self, name: str) -> str | None:
        if self._from_query:
            values = self.args.getlist(name)
            if len(values) > 1:
                raise errors.invalid_parameter(f"Parameter {name!r} is given more than once.")
            return values[0] if values else None
        return _json_field(self.body, name)

    def many(self, name: str) -> list[str]:
        if self._from_query:
            values = self.args.getlist(name)
        else:
            values = _json_field(self.body, name, repeated=True) or []
        if len(values) > _MAX_IDS:
            raise errors.invalid_parameter(f"Too many values for {name!r}.")
        return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json_field(body: dict, name: str, *, repeated: bool = False):
    """A field of a JSON body, under its proto name or its JSON name (protobuf accepts both;
    MLflow refuses a body with both, so do we)."""
    alias = _camel(name)
    if alias != name and name in body and alias in body:
        raise errors.invalid_parameter(
            f"Request specifies both {name!r} and {alias!r}; provide only one of them."
        )
    value = body.get(name, body.get(alias))
    if value is None:
        return None
    if repeated:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise errors.invalid_parameter(f"{name!r} must be a list of strings.")
        return value
    if not isinstance(value, str):
        raise errors.invalid_parameter(f"{name!r} must be a string.")
    return value


@dataclass
class Plan:
    """What the proxy does with an authorised call."""

    project: Project | None = None
    # A JSON body to send MLflow instead of the client's (run creation stamps the user).
    body: dict | None = None
    # Answered by the platform itself: the project whose experiment a client creates.
    create_experiment_of: Project | None = None
    # After MLflow answers: record the new run (with its parent), or filter a search's answer.
    record_run: bool = False
    parent: Run | None = None
    filter_experiments: bool = False


# --- Resolving ids to projects -----------------------------------------------------------------


def _authorise(user: AbstractBaseUser, project: Project, need: policy.Action, missing: str) -> None:
    """The policy's answer in MLflow's words: an invisible project is MLflow's 404, a refused role its 403."""
    if policy.can(user=user, project=project, action=need):
        return
    if not selectors.project_is_visible(user=user, project=project):
        raise errors.not_found(missing)
    if need == READ:
        raise errors.permission_denied("Your role in this project does not include its experiments.")
    raise errors.permission_denied(
        "Your role in this project does not allow logging runs (engineers and leads do)."
    )


def experiment_project(call: Call, experiment_id: str | None, need: policy.Action) -> Project:
    if not experiment_id:
        raise errors.invalid_parameter("Missing value for required parameter 'experiment_id'.")
    missing = f"No Experiment with id={experiment_id} exists"
    if not _EXPERIMENT_ID.fullmatch(experiment_id):
        raise errors.not_found(missing)
    record = selectors.experiment_for_id(experiment_id=experiment_id)
    if record is None:
        raise errors.not_found(missing)
    _authorise(call.user, record.project, need, missing)
    return record.project


def run_project(call: Call, run_id: str | None, need: policy.Action) -> tuple[Project, Run | None]:
    if not run_id:
        raise errors.invalid_parameter("Missing value for required parameter 'run_id'.")
    missing = f"Run '{run_id}' not found"
    if not _RUN_ID.fullmatch(run_id):
        raise errors.not_found(missing)
    mirror = selectors.run_for_mlflow_id(mlflow_run_id=run_id)
    if mirror is not None:
        project = mirror.project
    else:
        # A run the platform has no record of (made before the record existed, or straight on
        # the store): its experiment says which project it is in.
        from mlflow.exceptions import MlflowException

        try:
            experiment_id = mlflow_store.tracking_store().get_run(run_id).info.experiment_id
        except MlflowException:
            raise errors.not_found(missing) from None
        record = selectors.experiment_for_id(experiment_id=experiment_id)
        if record is None:
            raise errors.not_found(missing)
        project = record.project
    _authorise(call.user, project, need, missing)
    if need == WRITE and mirror is not None and mirror.source == RunSource.PLATFORM:
        raise errors.permission_denied(
            "This run was made by a platform job: it is read-only through MLflow clients."
        )
    return project, mirror


def _run_id(call: Call) -> str | None:
    run_id, run_uuid = call.one("run_id"), call.one("run_uuid")
    if run_id and run_uuid and run_id != run_uuid:
        raise errors.invalid_parameter("'run_id' and 'run_uuid' name different runs.")
    return run_id or run_uuid


def model_project(call: Call, model_id: str | None, need: policy.Action) -> Project:
    missing = f"Logged model with ID '{model_id}' not found."
    if not model_id or not _MODEL_ID.fullmatch(model_id):
        raise errors.not_found(missing)
    from mlflow.exceptions import MlflowException

    try:
        experiment_id = mlflow_store.tracking_store().get_logged_model(model_id).experiment_id
    except MlflowException:
        raise errors.not_found(missing) from None
    record = selectors.experiment_for_id(experiment_id=experiment_id)
    if record is None:
        raise errors.not_found(missing)
    _authorise(call.user, record.project, need, missing)
    return record.project


def _same_project(project: Project, other: Project) -> None:
    if other.pk != project.pk:
        raise errors.permission_denied("A run may only refer to runs and models of its own project.")


def _check_parent_tags(call: Call, project: Project, tags: Any) -> Run | None:
    """A run's parent (mlflow.parentRunId) must be a run of the same project."""
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise errors.invalid_parameter("'tags' must be a list of {key, value} objects.")
    parent = None
    for tag in tags:
        if tag.get("key") == mlflow_store.TAG_MLFLOW_PARENT_RUN:
            value = tag.get("value")
            if not isinstance(value, str):
                raise errors.invalid_parameter("The parent run id must be a string.")
            parent_project, parent = run_project(call, value, READ)
            _same_project(project, parent_project)
    return parent


def _check_models(call: Call, project: Project) -> None:
    models = call.body.get("models")
    if models is None:
        return
    if not isinstance(models, list) or not all(isinstance(item, dict) for item in models):
        raise errors.invalid_parameter("'models' must be a list of objects.")
    for item in models:
        _same_project(project, model_project(call, _json_field(item, "model_id"), READ))


def _artifact_project(call: Call, raw_path: str | None, need: policy.Action) -> Project:
    """Paths of MLflow's served artifacts start with the experiment id:
    <experiment>/<run>/artifacts/… for runs, <experiment>/models/<model>/artifacts/… for
    logged models. The path is canonicalised exactly as the handler does."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.uri import validate_path_is_safe

    if not raw_path:
        raise errors.permission_denied("Name an artifact path under an experiment id (<experiment id>/…).")
    try:
        path = validate_path_is_safe(raw_path)
    except MlflowException:
        raise errors.invalid_parameter("Invalid path") from None
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        raise errors.permission_denied("Name an artifact path under an experiment id (<experiment id>/…).")
    project = experiment_project(call, segments[0], READ if need == READ else WRITE)
    if need == READ:
        return project
    if len(segments) >= 4 and segments[2] == "artifacts":
        run_owner, _mirror = run_project(call, segments[1], WRITE)
        _same_project(project, run_owner)
    elif len(segments) >= 5 and segments[1] == "models" and segments[3] == "artifacts":
        _same_project(project, model_project(call, segments[2], WRITE))
    else:
        raise errors.permission_denied(
            "Artifacts are uploaded into a run's or a logged model's artifact folder."
        )
    return project


# --- The endpoints served ----------------------------------------------------------------------

Handler = Callable[[Call], Plan]
ENDPOINTS: dict[tuple[str, str], Handler] = {}


def endpoint(method: str, *rules: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for rule in rules:
            ENDPOINTS[(method, rule)] = handler
        return handler

    return register


@endpoint("GET", "/api/3.0/mlflow/server-info")
def _server_info(call: Call) -> Plan:
    return Plan()


@endpoint("GET", f"{API}/experiments/get")
def _experiment_read(call: Call) -> Plan:
    return Plan(project=experiment_project(call, call.one("experiment_id"), READ))


@endpoint("POST", f"{API}/experiments/set-experiment-tag", f"{API}/experiments/delete-experiment-tag")
def _experiment_tag(call: Call) -> Plan:
    project = experiment_project(call, call.one("experiment_id"), WRITE)
    key = call.one("key") or ""
    if key.startswith(mlflow_store.RESERVED_EXPERIMENT_TAG_PREFIX):
        raise errors.permission_denied(
            f"Tags starting with {mlflow_store.RESERVED_EXPERIMENT_TAG_PREFIX!r} are the platform's."
        )
    return Plan(project=project)


@endpoint("GET", f"{API}/experiments/get-by-name")
def _experiment_by_name(call: Call) -> Plan:
    name = call.one("experiment_name")
    if not name:
        raise errors.invalid_parameter("Missing value for required parameter 'experiment_name'.")
    missing = f"Could not find experiment with name '{name[:_MAX_NAME]}'"
    if len(name) > _MAX_NAME or "\x00" in name:
        raise errors.not_found(missing)
    experiment = mlflow_store.tracking_store().get_experiment_by_name(name)
    if experiment is None:
        raise errors.not_found(missing)
    record = selectors.experiment_for_id(experiment_id=experiment.experiment_id)
    if record is None:
        raise errors.not_found(missing)
    _authorise(call.user, record.project, READ, missing)
    return Plan(project=record.project)


@endpoint("POST", f"{API}/experiments/create")
def _experiment_create(call: Call) -> Plan:
    name = call.one("name")
    if not name:
        raise errors.invalid_parameter("Missing value for required parameter 'name'.")
    refusal = errors.permission_denied(
        "The only experiment you may create is a project's own, named by the project's slug "
        "(mlflow.set_experiment('<project slug>')), in a project where you are an engineer or the lead."
    )
    if len(name) > _MAX_NAME or "\x00" in name:
        raise refusal
    project = Project.objects.filter(slug=name).first()
    if project is None or not policy.can(user=call.user, project=project, action=policy.LOG_RUNS):
        raise refusal
    return Plan(project=project, create_experiment_of=project)


@endpoint("GET", f"{API}/experiments/search")
@endpoint("POST", f"{API}/experiments/search")
def _experiment_search(call: Call) -> Plan:
    return Plan(filter_experiments=True)


@endpoint("POST", f"{API}/runs/create")
def _run_create(call: Call) -> Plan:
    project = experiment_project(call, call.one("experiment_id"), WRITE)
    parent = _check_parent_tags(call, project, call.body.get("tags"))
    # The run is stamped with the platform's user and its source, whatever the client says.
    username = call.user.get_username()
    reserved = {mlflow_store.TAG_MLFLOW_USER, mlflow_store.TAG_SOURCE}
    tags = [tag for tag in (call.body.get("tags") or []) if tag.get("key") not in reserved]
    tags += [
        {"key": mlflow_store.TAG_MLFLOW_USER, "value": username},
        {"key": mlflow_store.TAG_SOURCE, "value": RunSource.EXTERNAL.value},
    ]
    body = {key: value for key, value in call.body.items() if key not in ("user_id", "userId", "tags")}
    body.update(user_id=username, tags=tags)
    return Plan(project=project, body=body, record_run=True, parent=parent)


@endpoint("GET", f"{API}/runs/get", f"{API}/metrics/get-history", f"{API}/artifacts/list")
def _run_read(call: Call) -> Plan:
    project, _mirror = run_project(call, _run_id(call), READ)
    return Plan(project=project)


@endpoint(
    "POST",
    f"{API}/runs/update",
    f"{API}/runs/log-metric",
    f"{API}/runs/log-parameter",
    f"{API}/runs/delete-tag",
    f"{API}/runs/log-model",
)
def _run_write(call: Call) -> Plan:
    project, _mirror = run_project(call, _run_id(call), WRITE)
    return Plan(project=project)


@endpoint("POST", f"{API}/runs/set-tag")
def _run_set_tag(call: Call) -> Plan:
    project, _mirror = run_project(call, _run_id(call), WRITE)
    key, value = call.one("key"), call.body.get("value")
    _check_parent_tags(call, project, [{"key": key, "value": value}])
    return Plan(project=project)


@endpoint("POST", f"{API}/runs/log-batch")
def _run_log_batch(call: Call) -> Plan:
    project, _mirror = run_project(call, _run_id(call), WRITE)
    _check_parent_tags(call, project, call.body.get("tags"))
    return Plan(project=project)


@endpoint("POST", f"{API}/runs/log-inputs", f"{API}/runs/outputs")
def _run_models(call: Call) -> Plan:
    project, _mirror = run_project(call, _run_id(call), WRITE)
    _check_models(call, project)
    return Plan(project=project)


@endpoint("POST", f"{API}/runs/search", f"{API}/logged-models/search")
def _search_in_experiments(call: Call) -> Plan:
    for experiment_id in call.many("experiment_ids"):
        experiment_project(call, experiment_id, READ)
    return Plan()


@endpoint("GET", f"{API}/metrics/get-history-bulk-interval")
def _bulk_history(call: Call) -> Plan:
    for run_id in call.many("run_ids"):
        run_project(call, run_id, READ)
    return Plan()


@endpoint("POST", f"{API}/logged-models")
def _model_create(call: Call) -> Plan:
    project = experiment_project(call, call.one("experiment_id"), WRITE)
    source_run_id = call.one("source_run_id")
    if source_run_id:
        run_owner, _mirror = run_project(call, source_run_id, READ)
        _same_project(project, run_owner)
    return Plan(project=project)


@endpoint("GET", f"{API}/logged-models/<model_id>", f"{API}/logged-models/<model_id>/artifacts/directories")
def _model_read(call: Call) -> Plan:
    return Plan(project=model_project(call, call.view_args.get("model_id"), READ))


@endpoint("PATCH", f"{API}/logged-models/<model_id>", f"{API}/logged-models/<model_id>/tags")
@endpoint("POST", f"{API}/logged-models/<model_id>/params")
@endpoint("DELETE", f"{API}/logged-models/<model_id>/tags/<tag_key>")
def _model_write(call: Call) -> Plan:
    return Plan(project=model_project(call, call.view_args.get("model_id"), WRITE))


@endpoint("GET", ARTIFACTS)
def _artifacts_list(call: Call) -> Plan:
    return Plan(project=_artifact_project(call, call.one("path"), READ))


@endpoint("GET", f"{ARTIFACTS}/<path:artifact_path>")
def _artifact_download(call: Call) -> Plan:
    return Plan(project=_artifact_project(call, call.view_args.get("artifact_path"), READ))


@endpoint("PUT", f"{ARTIFACTS}/<path:artifact_path>")
def _artifact_upload(call: Call) -> Plan:
    return Plan(project=_artifact_project(call, call.view_args.get("artifact_path"), WRITE))


def plan(call: Call) -> Plan:
    handler = ENDPOINTS.get((call.method, call.rule))
    if handler is None:
        raise errors.permission_denied(
            f"{call.method} {call.rule} is not served by Prakriya's tracking server (it serves "
            "experiments, runs, metrics, logged models and artifacts; not the model registry, "
            "traces, deletions or MLflow's other services)."
        )
    return handler(call)


def visible_experiment_ids(*, user: AbstractBaseUser, experiment_ids: list[str]) -> set[str]:
    """Of these MLflow experiment ids, those whose runs the user may see."""
    records = selectors.experiments_for_ids(experiment_ids=[i for i in experiment_ids if isinstance(i, str)])
    return {
        experiment_id
        for experiment_id, record in records.items()
        if policy.can(user=user, project=record.project, action=policy.VIEW_RUNS)
    }
