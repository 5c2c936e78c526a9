from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from prakriya.accounts.models import Profile
from projects import services
from projects.models import Project

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            self.save()
            Profile.objects.get_or_create(user=self, defaults={"display_name": self.username.title()})


def make_project(*, lead, slug: str = "demo", visibility: str = "public", **charter) -> Project:
    defaults = {
        "title": slug.replace("-", " ").title(),
        "summary": "A project used by the tests",
        "problem_statement": "Recognise handwritten digits on forms.",
        "current_process": "Clerks type the digits by hand.",
        "ml_role": "Suggest each digit; clerks confirm.",
    }
    defaults.update(charter)
    return services.project_create(creator=lead, slug=slug, visibility=visibility, **defaults)
