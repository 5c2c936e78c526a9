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
