from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from prakriya.accounts import selectors
from prakriya.accounts.models import LockoutLift, Profile

User = get_user_model()


def profile_get(*, user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def user_sign_up(*, username: str, email: str, password: str, display_name: str = "") -> AbstractBaseUser:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["This username is taken."]})
    user = User.objects.create_user(username=username, email=email, password=password)
    Profile.objects.create(user=user, display_name=display_name)
    return user


# --- Signing up by e-mail --------------------------------------------------------------------
# The sign-up form answers the same whether or not the username is free ("check your e-mail"):
# the outcome goes to the address given, a link to finish signing up or a note that the name is
# in use. Only someone who reads that mailbox learns whether the name exists, one e-mail at a time.

_SIGN_UP_SALT = "prakriya.accounts.sign-up"


@dataclass(frozen=True)
class SignUpRequest:
    username: str
    email: str
    display_name: str


class SignUpLinkInvalid(Exception):
    pass


class MailNotSent(Exception):
    pass


def sign_up_request(*, username: str, email: str, display_name: str, site_url: str) -> None:
    """E-mails `email` either a link to finish signing up as `username` or, if the name is in use,
    a note saying so. Raises MailNotSent if the mail server refused the message (either kind)."""
    taken = User.objects.filter(username__iexact=username).exists()
    context = {"username": username, "site_url": site_url.rstrip("/"), "hours": settings.PRAKRIYA_SIGNUP_LINK_HOURS}
    if taken:
        subject = "Your sign-up on Prakriya: that username is in use"
        context["sign_up_url"] = context["site_url"] + reverse("sign_up")
        context["login_url"] = context["site_url"] + reverse("login")
        body = render_to_string("accounts/email/sign_up_taken.txt", context)
    else:
        token = signing.dumps(
            {"u": username, "e": email, "d": display_name}, salt=_SIGN_UP_SALT, compress=True
        )
        subject = "Finish signing up to Prakriya"
        context["confirm_url"] = context["site_url"] + reverse("sign_up_confirm", args=[token])
        body = render_to_string("accounts/email/sign_up_confirm.txt", context)
    try:
        send_mail(subject, body, None, [email])
    except (OSError, smtplib.SMTPException) as exc:
        raise MailNotSent(str(exc)) from exc


def sign_up_request_read(*, token: str) -> SignUpRequest:
    """The sign-up a confirmation link stands for; raises SignUpLinkInvalid if it was tampered
    with or is older than PRAKRIYA_SIGNUP_LINK_HOURS."""
    try:
        data = signing.loads(token, salt=_SIGN_UP_SALT, max_age=timedelta(hours=settings.PRAKRIYA_SIGNUP_LINK_HOURS))
        return SignUpRequest(username=str(data["u"]), email=str(data["e"]), display_name=str(data["d"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise SignUpLinkInvalid() from exc


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


# --- Sign-in lock-outs -----------------------------------------------------------------------

# A lead may lift one account's lock-out once in this long: a lead can add anyone to a project, so
# unlimited lifts would give whoever makes a project unlimited guesses at any account.
LEAD_LIFT_INTERVAL = timedelta(hours=24)


def _attempts_delete(*, username: str | None, ip_address: str | None) -> int:
    attempts = AccessAttempt.objects.all()
    if username is not None:
        attempts = attempts.filter(username=username)
    if ip_address is not None:
        attempts = attempts.filter(ip_address=ip_address)
    deleted, _ = attempts.delete()
    return deleted


@transaction.atomic
def lockout_lift_by_staff(
    *, actor: AbstractBaseUser, username: str | None = None, ip_address: str | None = None
) -> int:
    """Forgets the failed sign-ins of an account (any address) or of an address (any account);
    returns how many failure records went."""
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only staff may lift any lock-out.")
    if (username is None) == (ip_address is None):
        raise ValidationError("Name either an account or an address.")
    removed = _attempts_delete(username=username, ip_address=ip_address)
    LockoutLift.objects.create(
        username=username or "", ip_address=ip_address, via=LockoutLift.Via.STAFF, lifted_by=actor,
        attempts_removed=removed,
    )
    return removed


@transaction.atomic
def lockout_lift_for_member(*, actor: AbstractBaseUser, user: AbstractBaseUser, project_slug: str) -> int:
    """Forgets the failed sign-ins of `user`'s account, at a lead's request. The caller has checked
    that `actor` leads a project `user` is a member of (projects.services.member_lockout_lift);
    this enforces what holds whatever the project: staff accounts are staff's to unlock, and one
    lift per account per LEAD_LIFT_INTERVAL."""
    if user.is_staff or user.is_superuser:
        raise PermissionDenied("A staff account's lock-out is lifted by staff only.")
    username = user.get_username()
    # Serialises concurrent lifts of one account, so the interval holds under double clicks.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if username not in selectors.locked_usernames(usernames=[username]):
        raise ValidationError("This account is not locked out.")
    recent = LockoutLift.objects.filter(
        username=username, via=LockoutLift.Via.LEAD, created_at__gte=timezone.now() - LEAD_LIFT_INTERVAL
    )
    if recent.exists():
        raise ValidationError(
            "A lead already lifted this account's lock-out in the last 24 hours; ask a site administrator."
        )
    removed = _attempts_delete(username=username, ip_address=None)
    LockoutLift.objects.create(
        username=username, via=LockoutLift.Via.LEAD, project_slug=project_slug, lifted_by=actor,
        attempts_removed=removed,
    )
    return removed
