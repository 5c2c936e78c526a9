from django import forms
from django.conf import settings

from deployments.models import LoopbackStrategy


class LoopbackForm(forms.Form):
    strategy = forms.ChoiceField(choices=LoopbackStrategy.choices, initial=LoopbackStrategy.LOWEST_CONFIDENCE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The bound is a setting, read when the form is made (tests and operators change it).
        self.fields["size"] = forms.IntegerField(min_value=1, max_value=settings.PRAKRIYA_LOOPBACK_MAX_ITEMS,
                                                 initial=50, label="How many inputs")
