from django.contrib import admin

from prakriya.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "project", "state", "progress", "attempts", "created_at", "heartbeat_at")
    list_filter = ("state", "kind", "queue")
    readonly_fields = ("run_token", "idempotency_key", "log")
