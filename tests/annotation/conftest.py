from tests.fixtures_labelstudio import label_studio_server  # noqa: F401
