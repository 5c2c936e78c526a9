from django import forms
from django.core.exceptions import ValidationError

from deployments.benchmark.services import DEFAULT_OPTIONS, ITERATIONS, MAX_BATCH, MAX_BATCH_SIZES, WARMUP


class BenchmarkForm(forms.Form):
    batch_sizes = forms.CharField(
        initial=", ".join(str(s) for s in DEFAULT_OPTIONS["batch_sizes"]), max_length=40,
        help_text=f"Up to {MAX_BATCH_SIZES}, each 1 to {MAX_BATCH}, separated by commas.",
    )
    iterations = forms.IntegerField(initial=DEFAULT_OPTIONS["iterations"], min_value=ITERATIONS[0],
                                    max_value=ITERATIONS[1], help_text="Timed calls per batch size.")
    warmup = forms.IntegerField(initial=DEFAULT_OPTIONS["warmup"], min_value=WARMUP[0], max_value=WARMUP[1],
                                label="Warm-up calls")
    threads = forms.IntegerField(initial=DEFAULT_OPTIONS["threads"], min_value=1, max_value=64,
                                 help_text="The same fixed thread count for both engines.")

    def clean_batch_sizes(self) -> list[int]:
        parts = [p for p in self.cleaned_data["batch_sizes"].replace(",", " ").split() if p]
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ValidationError("Whole numbers separated by commas, e.g. 1, 32.") from None
