from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What the platform knows about a person beyond their login. Annotator metadata
    (languages, expertise) is recorded with annotations in later stages."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=120, blank=True)
    affiliation = models.CharField(max_length=200, blank=True)
    languages = models.CharField(
        max_length=300, blank=True, help_text="Comma-separated, e.g. English, Hindi, Tamil"
    )
    expertise = models.TextField(max_length=2000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()

    @property
    def language_list(self) -> list[str]:
        return [lang.strip() for lang in self.languages.split(",") if lang.strip()]


class LockoutLift(models.Model):
    """A sign-in lock-out lifted before its cool-off ended: who lifted what, and in what capacity
    (a member's lead may do so once a day per account; staff without limit)."""

    class Via(models.TextChoices):
        STAFF = "staff", "Staff"
        LEAD = "lead", "Lead of a project the account is a member of"

    username = models.CharField(max_length=255, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    # The project whose lead lifted it (a slug, kept as text: accounts know no projects).
    project_slug = models.CharField(max_length=80, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    attempts_removed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.username or self.ip_address} lifted by {self.lifted_by} ({self.via})"
