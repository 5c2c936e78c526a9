from django import forms

from experiments.evaluation.services import MAX_TEXT


class EvaluationRequestForm(forms.Form):
    run = forms.CharField(max_length=64, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Why this run, now: the project has only a few evaluations.")


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 2}))
