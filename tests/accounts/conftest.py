from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def verified_user(**kwargs):
    user = UserFactory(**kwargs)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth keeps rate-limit counters in the cache: start every test from zero.
    from django.core.cache import cache

    cache.clear()
