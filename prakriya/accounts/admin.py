from django.contrib import admin

from prakriya.accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "affiliation", "languages")
    search_fields = ("user__username", "display_name", "affiliation")
