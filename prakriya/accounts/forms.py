from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, UsernameField

from prakriya.accounts.lockout import Lockout, SignInInvalid, SignInLocked, sign_in_check
from prakriya.accounts.models import Profile

User = get_user_model()


class LoginForm(AuthenticationForm):
    """Django's login form, with the password checked through sign_in_check: a locked-out account
    or address gets the lock-out message instead of the usual one."""

    lockout: Lockout | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = sign_in_check(request=self.request, username=username, password=password)
            except SignInLocked as exc:
                self.lockout = exc.lockout
                raise forms.ValidationError(exc.lockout.message, code="locked") from None
            except SignInInvalid:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignUpForm(forms.Form):
    """Asks for no password and says nothing about the username being free: both come after the
    e-mail (services.sign_up_request)."""

    username = UsernameField(
        max_length=150,
        validators=[User.username_validator],
        help_text="Letters, digits and @ . + - _ only; at most 150 characters.",
    )
    email = forms.EmailField(max_length=254, help_text="We send a link there to finish signing up.")
    display_name = forms.CharField(max_length=120, required=False, label="Display name")


class SignUpPasswordForm(forms.Form):
    """The password chosen on the confirmation link's page, held to the password validators."""

    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password confirmation", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, username: str, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._candidate = User(username=username, email=email)

    def clean_password2(self) -> str:
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data.get("password2")
        if password1 and password2 and password1 != password2:
            raise forms.ValidationError("The two passwords differ.", code="password_mismatch")
        return password2

    def _post_clean(self):
        super()._post_clean()
        password = self.cleaned_data.get("password2")
        if password:
            try:
                password_validation.validate_password(password, self._candidate)
            except forms.ValidationError as error:
                self.add_error("password2", error)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ("display_name", "affiliation", "languages", "expertise")
        widgets = {"expertise": forms.Textarea(attrs={"rows": 4})}


class TokenCreateForm(forms.Form):
    """A new token needs the account's password again (a session alone does not mint a token that
    outlives it); the password is checked, and throttled, like a sign-in."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your password to create a token."},
    )
    expiry_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a token that lasts until you revoke it.",
    )

    lockout: Lockout | None = None

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password and self.request is not None:
            try:
                sign_in_check(request=self.request, username=self.request.user.get_username(), password=password)
            except SignInLocked as exc:
                self.lockout = exc.lockout
                raise forms.ValidationError(exc.lockout.message, code="locked") from None
            except SignInInvalid:
                self.add_error("password", "That is not your password.")
        return cleaned


class LockoutLiftForm(forms.Form):
    kind = forms.ChoiceField(choices=[("account", "Account"), ("address", "Address")])
    value = forms.CharField(max_length=255)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "address" and cleaned.get("value"):
            try:
                cleaned["value"] = forms.GenericIPAddressField().clean(cleaned["value"])
            except forms.ValidationError:
                self.add_error("value", "Not an IP address.")
        return cleaned

