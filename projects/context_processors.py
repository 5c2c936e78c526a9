"""What every page's header needs of the signed-in person: how many things wait on them (the
count beside "Home"), computed only when the header reads it."""

from __future__ import annotations

import functools

from projects.home import waiting_count


def home_waiting(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template calls it where the header shows the count, once.
    return {"home_waiting": functools.partial(waiting_count, user=user)}
