from __future__ import annotations

from django import forms
from django.conf import settings

from projects.literature.services import ENTRY_FIELDS
from projects.models import LiteratureEntry


class LiteratureEntryForm(forms.ModelForm):
    # A bare "arxiv.org/abs/…" is taken as https; the model refuses schemes other than http(s).
    link = forms.URLField(
        max_length=500, required=False, assume_scheme="https", help_text="http or https address of the paper or code",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )

    class Meta:
        model = LiteratureEntry
        fields = ENTRY_FIELDS
        widgets = {
            "approach": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 5}),
        }
        labels = {"feasibility": "Feasibility for this team", "compute_needed": "Compute needed"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notes"].max_length = settings.PRAKRIYA_MAX_MARKDOWN_CHARS
        self.fields["notes"].validators.append(
            forms.fields.validators.MaxLengthValidator(settings.PRAKRIYA_MAX_MARKDOWN_CHARS)
        )
        self.fields["notes"].help_text = "Markdown"
