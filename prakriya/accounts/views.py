from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from prakriya.accounts import selectors, services
from prakriya.accounts.forms import (
    LockoutLiftForm,
    LoginForm,
    ProfileForm,
    SignUpForm,
    SignUpPasswordForm,
    TokenCreateForm,
)
from prakriya.limits import rate_limited


class LoginView(auth_views.LoginView):
    """The login page (and the API's browsable login): a locked-out sign-in is answered 429 with
    the lock-out message on the form."""

    form_class = LoginForm
    template_name = "accounts/login.html"

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.lockout is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.lockout.seconds)
        return response


@rate_limited("signups")
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.sign_up_request(**form.cleaned_data, site_url=request.build_absolute_uri("/"))
        except services.MailNotSent:
            form.add_error(None, "We could not send e-mail just now. Please try again in a few minutes.")
        else:
            request.session["sign_up_email"] = form.cleaned_data["email"]
            return redirect("sign_up_sent")
    return render(request, "accounts/sign_up.html", {"form": form})


def sign_up_sent(request):
    return render(request, "accounts/sign_up_sent.html", {"email": request.session.get("sign_up_email")})


def sign_up_confirm(request, token: str):
    if request.user.is_authenticated:
        return redirect("profile")
    try:
        pending = services.sign_up_request_read(token=token)
    except services.SignUpLinkInvalid:
        return render(request, "accounts/sign_up_link_invalid.html", status=400)
    form = SignUpPasswordForm(request.POST or None, username=pending.username, email=pending.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                username=pending.username,
                email=pending.email,
                password=form.cleaned_data["password1"],
                display_name=pending.display_name,
            )
        except (ValidationError, IntegrityError):
            form.add_error(
                None,
                "This username was taken before you finished (or this link was used already): "
                "log in, or sign up again with another username.",
            )
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to Prakriya. Tell the community a little about yourself.")
            return redirect("profile")
    return render(request, "accounts/sign_up_confirm.html", {"form": form, "pending": pending})


@login_required
def profile(request):
    current = services.profile_get(user=request.user)
    form = ProfileForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "token_form": TokenCreateForm(),
            "tokens": selectors.api_token_list(user=request.user),
            "new_token": request.session.pop("new_api_token", None),
        },
    )


@login_required
@require_POST
def token_create(request):
    form = TokenCreateForm(request.POST, request=request)
    if not form.is_valid():
        if form.lockout is not None:
            messages.error(request, form.lockout.message)
        elif "password" in form.errors:
            messages.error(request, f"No token created: {form.errors['password'][0]}")
        else:
            messages.error(request, "Expiry must be a whole number of days between 1 and 3650.")
        return redirect("profile")
    _, secret = services.api_token_create(user=request.user, expiry_days=form.cleaned_data["expiry_days"])
    # Shown exactly once on the next page; only a hash is stored.
    request.session["new_api_token"] = secret
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request, token_key: str):
    if services.api_token_revoke(user=request.user, token_key=token_key):
        messages.success(request, "Token revoked.")
    else:
        messages.error(request, "No such token.")
    return redirect("profile")


@login_required
def lockouts(request):
    """Staff: every account and address locked out now, each with a button to lift it."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may see and lift lock-outs.")
    form = LockoutLiftForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
            services.lockout_lift_by_staff(
                actor=request.user,
                username=value if kind == "account" else None,
                ip_address=value if kind == "address" else None,
            )
            messages.success(request, f"Lock-out of {'account' if kind == 'account' else 'address'} {value} lifted.")
            return redirect("lockouts")
        messages.error(request, "Name an account or an IP address.")
    return render(request, "accounts/lockouts.html", {"entries": selectors.lockout_list(), "form": form})
