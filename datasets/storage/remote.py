"""The DVC remote every project repository pushes to, and the DVC config that names it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from datasets.storage.errors import StorageError

REMOTE_NAME = "storage"
# Hard links first: `dvc add` then files each file into the cache with one link() instead of a
# copy of its bytes, and the workspace file is the cached object (DVC makes it read-only; this
# package never writes into the workspace in place, a new version replaces the whole folder).
# With "reflink" first, as DVC's default has it, DVC copies every file into the cache on ext4 and
# keeps both: twice the disk and a third slower for 20,000 small files (docs/datasets-dvc.md).
# Reflinks still come into play where the file system has them: DVC tries a reflink before a
# hard link when it files an object away.
CACHE_TYPE = "hardlink,reflink,copy"


def remote_settings() -> dict[str, str]:
    url = str(getattr(settings, "PRAKRIYA_DVC_REMOTE_URL", "") or "").strip()
    if not url:
        url = str(Path(settings.DATA_DIR) / "dvc-remote")
    remote = {"url": url}
    if "://" not in url:
        # A local folder: absolute, so clones of the repository find it too.
        path = Path(url).expanduser().resolve()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"The DVC remote folder {path} cannot be created: {exc}") from exc
        remote["url"] = str(path)
    elif url.startswith("s3://"):
        endpoint = str(getattr(settings, "PRAKRIYA_DVC_S3_ENDPOINT_URL", "") or "").strip()
        if endpoint:
            remote["endpointurl"] = endpoint
        # Credentials are never written to the config: DVC (boto) reads AWS_ACCESS_KEY_ID,
        # AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION from the environment.
    return remote


def configure_dvc(repo: Path) -> bool:
    """Bring the DVC config in line with the deployment; True if the committed config changed.

    Files are rewritten only when something differs: readers load them without the lock.
    """
    from dvc.config import Config

    config = Config(dvc_dir=str(repo / ".dvc"), validate=False)
    wanted_local = {
        "cache": {"type": CACHE_TYPE},
        # DVC's index of each version's listing (what makes reads at a tag fast) stays with the
        # repository in the data folder, not in /var/tmp.
        "core": {"site_cache_dir": str(repo / ".dvc" / "tmp" / "site-cache")},
    }
    local = config.load_one("local")
    if any(
        str(local.get(section, {}).get(k)) != v for section, kv in wanted_local.items() for k, v in kv.items()
    ):
        with config.edit("local") as conf:
            for section, kv in wanted_local.items():
                conf[section].update(kv)

    remote = remote_settings()
    wanted_core = {"analytics": "false", "autostage": "false", "remote": REMOTE_NAME}
    current = config.load_one("repo")
    core = {k: str(current.get("core", {}).get(k, "")).lower() for k in wanted_core}
    if (
        core == {k: v.lower() for k, v in wanted_core.items()}
        and current.get("remote", {}).get(REMOTE_NAME) == remote
    ):
        return False
    with config.edit("repo") as conf:
        conf["core"].update({"analytics": False, "autostage": False, "remote": REMOTE_NAME})
        conf["remote"][REMOTE_NAME] = remote
    return True
