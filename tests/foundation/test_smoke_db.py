import pytest


@pytest.mark.django_db
def test_it_creates_a_user(django_user_model):
    user = django_user_model.objects.create_user(username="a", email="a@example.com")
    assert django_user_model.objects.get(pk=user.pk).email == "a@example.com"
