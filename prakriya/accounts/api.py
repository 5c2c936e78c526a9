"""API token creation with a username and password: how automation gets its first token without a
browser. Throttled like every sign-in (prakriya/accounts/lockout.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from prakriya.accounts import services
from prakriya.accounts.lockout import SignInInvalid, SignInLocked, sign_in_check
from prakriya.rest import CappedFormParser, CappedJSONParser


class TokenCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    expiry_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True,
        help_text="Days until the token expires; omit for a token that lasts until revoked.",
    )


_DETAIL = inline_serializer("Detail", fields={"detail": serializers.CharField()})


class TokenCreateView(APIView):
    # Credentials are the request's body: no session (so no CSRF to check) and no token.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [CappedJSONParser, CappedFormParser]

    @extend_schema(
        summary="Create an API token with your username and password",
        request=TokenCreateSerializer,
        responses={
            201: inline_serializer("NewToken", fields={
                "token": serializers.CharField(help_text="The secret: shown this once, never stored in clear"),
                "token_key": serializers.CharField(), "expiry": serializers.DateTimeField(allow_null=True),
            }),
            400: OpenApiResponse(_DETAIL, description="Invalid input, or wrong username or password"),
            429: OpenApiResponse(
                inline_serializer("LockedOut", fields={
                    "detail": serializers.CharField(), "locked_until": serializers.DateTimeField(),
                }),
                description="Too many failed sign-ins for the account or from the address",
            ),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            user = sign_in_check(request=request, username=data["username"], password=data["password"])
        except SignInLocked as exc:
            lockout = exc.lockout
            return Response(
                {"detail": lockout.message, "locked_until": lockout.until.isoformat()},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(lockout.seconds)},
            )
        except SignInInvalid:
            return Response({"detail": "Invalid username or password."}, status=status.HTTP_400_BAD_REQUEST)
        token, secret = services.api_token_create(user=user, expiry_days=data.get("expiry_days"))
        return Response(
            {"token": secret, "token_key": token.token_key, "expiry": token.expiry},
            status=status.HTTP_201_CREATED,
        )
