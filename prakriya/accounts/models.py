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
