from __future__ import annotations

from django import forms

from deployments import services


class DeploymentCreateForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. digits-api")
    export = forms.TypedChoiceField(coerce=int, help_text="A ready export of this project")
    override_reason = forms.CharField(
        max_length=services.MAX_REASON, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only the lead: why this version may serve all traffic without a benchmark inside the targets",
    )

    def __init__(self, *args, exports=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["export"].choices = [(e.pk, f"{e} · {e.trainer} · run {e.run}") for e in exports]


class CanaryForm(forms.Form):
    export = forms.TypedChoiceField(coerce=int)
    percent = forms.IntegerField(min_value=1, max_value=services.MAX_CANARY_PERCENT, initial=10)

    def __init__(self, *args, exports=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["export"].choices = [(e.pk, f"{e} · {e.trainer} · run {e.run}") for e in exports]


class ShareForm(forms.Form):
    percent = forms.IntegerField(min_value=1, max_value=services.MAX_CANARY_PERCENT)


class PromoteForm(forms.Form):
    override_reason = forms.CharField(
        max_length=services.MAX_REASON, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed only when the canary's benchmark is missing or misses a target",
    )


class KeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Who will call with it, e.g. forms-service")
