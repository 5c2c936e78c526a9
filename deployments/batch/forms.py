from __future__ import annotations

from django import forms

from deployments.batch import selectors


class BatchPredictForm(forms.Form):
    """Score a dataset version: one of the project's ready versions, with the deployment's stable
    version or its canary. Only those choices are offered, so another project's version or an
    export the deployment does not serve is a form error."""

    version = forms.TypedChoiceField(coerce=int, label="Dataset version",
                                     help_text="Every item but the sealed test set's is scored.")
    export = forms.TypedChoiceField(coerce=int, label="Scored by")

    def __init__(self, *args, versions=(), deployment=None, **kwargs):
        # Its own element ids: the deployment's page holds other forms with an "export" field.
        kwargs.setdefault("auto_id", "batch_%s")
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [
            (v.pk, f"{v.dataset.name} {v.label} · {v.item_count} items") for v in versions
        ]
        choices = []
        if deployment is not None:
            choices.append((deployment.stable_id, f"Stable: {deployment.stable}"))
            if deployment.canary_id:
                choices.append((deployment.canary_id, f"Canary: {deployment.canary}"))
        self.fields["export"].choices = choices


def start_form(*, project, deployment, data=None) -> BatchPredictForm:
    """The form as the deployment's page and the batch predictions' page show it: the project's
    ready versions, the deployment's stable version and canary."""
    return BatchPredictForm(data, versions=list(selectors.scorable_versions(project=project)), deployment=deployment)
