from django.urls import path

from datasets import views

app_name = "datasets"

_DS = "projects/<slug:slug>/data/<slug:ds>/"
_V = _DS + "v<int:number>/"

urlpatterns = [
    path("projects/<slug:slug>/data/", views.dataset_list, name="list"),
    path(_DS, views.dataset_detail, name="detail"),
    path(_DS + "upload/", views.version_upload, name="upload"),
    path(_DS + "import/", views.sklearn_import, name="import_sklearn"),
    path(_DS + "document/", views.data_document, name="document"),
    path(_DS + "document/edit/", views.data_document_edit, name="document_edit"),
    path(_V, views.version_detail, name="version"),
    path(_V + "profile/", views.version_reprofile, name="reprofile"),
    path(_V + "split/", views.split_create, name="split"),
    path(_V + "derive/", views.version_derive, name="derive"),
    path(_V + "items/", views.item_list, name="items"),
    path(_V + "items/<path:key>/content", views.item_content, name="item_content"),
    path(_V + "download/", views.version_download, name="download"),
    path(_V + "diff/<int:other>/", views.version_diff, name="diff"),
]
