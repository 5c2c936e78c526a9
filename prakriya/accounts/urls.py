from django.contrib.auth import views as auth_views
from django.urls import path

from prakriya.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.sign_up, name="sign_up"),
    path("signup/sent/", views.sign_up_sent, name="sign_up_sent"),
    path("signup/confirm/<str:token>/", views.sign_up_confirm, name="sign_up_confirm"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/", views.token_create, name="token_create"),
    path("profile/tokens/<str:token_key>/revoke/", views.token_revoke, name="token_revoke"),
    path("lockouts/", views.lockouts, name="lockouts"),
]
