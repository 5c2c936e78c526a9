from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from prakriya.accounts import selectors, services
from prakriya.accounts.forms import ProfileForm, SignUpForm, TokenCreateForm
from prakriya.limits import rate_limited


@rate_limited("signups")
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_sign_up(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data["display_name"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Prakriya. Tell the community a little about yourself.")
        return redirect("profile")
    return render(request, "accounts/sign_up.html", {"form": form})


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
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
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
