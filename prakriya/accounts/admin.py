from django.contrib import admin

from prakriya.accounts.models import LockoutLift, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "affiliation", "languages")
    search_fields = ("user__username", "display_name", "affiliation")


@admin.register(LockoutLift)
class LockoutLiftAdmin(admin.ModelAdmin):
    """Who lifted which sign-in lock-out: a record, never edited (lift lock-outs from axes' access
    attempts here, or at /accounts/lockouts/)."""

    list_display = ("created_at", "username", "ip_address", "via", "project_slug", "lifted_by", "attempts_removed")
    list_filter = ("via",)
    search_fields = ("username", "ip_address", "project_slug")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
