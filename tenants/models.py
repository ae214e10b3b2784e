from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who signs in: customer users and vendor staff alike (staff have ``is_staff``)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
