import django_filters
from django.db.models import Q

from projects.models import STAGE_CHOICES, Project, Tag


class ProjectFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    stage = django_filters.ChoiceFilter(choices=STAGE_CHOICES, empty_label="Any stage")
    tag = django_filters.ModelChoiceFilter(
        field_name="tags", queryset=Tag.objects.all(), to_field_name="name", empty_label="Any tag"
    )

    class Meta:
        model = Project
        fields = ["q", "stage", "tag"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the tags of projects the requester can see (the queryset given is already scoped
        # by selectors.project_list_visible): a tag used only by private projects is no choice,
        # and filtering by it is the same error as filtering by a tag nobody uses.
        self.filters["tag"].queryset = Tag.objects.filter(projects__in=self.queryset).distinct().order_by("name")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(summary__icontains=value)
            | Q(problem_statement__icontains=value)
            | Q(tags__name__iexact=value)
        ).distinct()
