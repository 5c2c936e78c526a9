"""Campaign pages, under /projects/<slug>/campaigns/."""

from django.urls import path

from datasets.annotation.agreement import views as agreement
from datasets.annotation.labelstudio import views as labelstudio
from datasets.annotation.views import labelling, manage

app_name = "annotation"

_P = "projects/<slug:slug>/campaigns/"
_C = _P + "<slug:campaign>/"

urlpatterns = [
    # Setting campaigns up and following them (views/manage.py)
    path(_P, manage.campaign_list, name="list"),
    path(_P + "new/", manage.campaign_create, name="create"),
    path(_C, manage.campaign_detail, name="detail"),
    path(_C + "settings/", manage.campaign_edit, name="edit"),
    path(_C + "close/", manage.campaign_close, name="close"),
    path(_C + "release/", manage.campaign_release, name="release"),
    path(_C + "agreement/", agreement.agreement, name="agreement"),
    path(_C + "adjudicate/", manage.adjudication_queue, name="adjudicate"),
    path(_C + "adjudicate/<int:item>/", manage.adjudicate_item, name="adjudicate_item"),
    path(_C + "adjudicate/sample/", manage.gold_sample_draw, name="gold_sample"),
    path(_C + "guideline/edit/", manage.guideline_edit, name="guideline_edit"),
    path(_C + "active/", manage.active_labelling, name="active"),
    path(_C + "labelstudio/export.json", labelstudio.labelstudio_export, name="labelstudio_export"),
    path(_C + "labelstudio/import/", labelstudio.labelstudio_import, name="labelstudio_import"),
    path(_C + "labelstudio/sync/", labelstudio.labelstudio_sync, name="labelstudio_sync"),
    # Labelling (views/labelling.py)
    path(_C + "label/", labelling.label_page, name="label"),
    path(_C + "label/skipped/", labelling.skips_return, name="skips_return"),
    path(_C + "guideline/", labelling.guideline, name="guideline"),
    path(_C + "mine/", labelling.my_annotations, name="mine"),
    path(_C + "mine/<int:annotation>/", labelling.annotation_edit, name="annotation_edit"),
    path(_C + "items/<int:item>/content", labelling.item_content, name="item_content"),
]
