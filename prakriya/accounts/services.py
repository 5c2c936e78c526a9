from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from knox.models import AuthToken

from prakriya.accounts.models import Profile

User = get_user_model()


def profile_get(*, user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def user_sign_up(*, username: str, email: str, password: str, display_name: str = "") -> AbstractBaseUser:
    user = User.objects.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user, display_name=display_name)
    return user


@transaction.atomic
def profile_update(
    *, user: AbstractBaseUser, display_name: str, affiliation: str, languages: str, expertise: str
) -> Profile:
    profile = profile_get(user=user)
    profile.display_name = display_name
    profile.affiliation = affiliation
    profile.languages = ", ".join(lang.strip() for lang in languages.split(",") if lang.strip())
    profile.expertise = expertise
    profile.full_clean()
    profile.save()
    return profile


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, expiry_days: int | None = None) -> tuple[AuthToken, str]:
    """Returns the stored token and its secret, which is shown once and never stored in clear."""
    expiry = timedelta(days=expiry_days) if expiry_days else None
    return AuthToken.objects.create(user=user, expiry=expiry)


@transaction.atomic
def api_token_revoke(*, user: AbstractBaseUser, token_key: str) -> bool:
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted > 0
