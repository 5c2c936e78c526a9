from django.contrib import admin

from datasets.models import DataDocument, Dataset, DatasetVersion, Split

# Items are deliberately not registered: the admin would show sealed test labels.


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "slug", "project__slug")


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ("dataset", "number", "state", "item_count", "git_tag", "created_at")
    list_filter = ("state",)
    readonly_fields = ("git_commit", "git_tag", "dvc_md5", "item_count", "labelled_count", "size_bytes")


admin.site.register(Split)
admin.site.register(DataDocument)
