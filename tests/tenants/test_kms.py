"""AWS KMS as the key-encryption key (moto stands in for KMS): data keys generated and unwrapped
by KMS, a rotation from local keys to KMS, and a disabled key named clearly."""

from __future__ import annotations

import io

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from tenants import keys, keys_wrapping
from tenants.exceptions import DecryptionError
from tenants.models import DataKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def kms(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("kms", region_name="eu-west-1")
        settings.KMS_REGION_NAME = "eu-west-1"
        keys.forget_cached_keys()
        yield client
    keys.forget_cached_keys()


def test_a_data_key_is_generated_and_unwrapped_by_kms(kms, settings):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    settings.KMS_KEYS = [("kms1", arn)]
    active = keys.active_key("snapshots/tenant-1")
    assert DataKey.objects.get(pk=active.id).kek_id == "kms1"
    keys.forget_cached_keys()
    assert keys.data_key("snapshots/tenant-1", active.id) == active.key
    # Without the KMS key configured, the local keys cannot open it and say so.
    settings.KMS_KEYS = []
    keys.forget_cached_keys()
    with pytest.raises(DecryptionError, match="wrapped only by KEK ids \\['kms1'\\]"):
        keys.data_key("snapshots/tenant-1", active.id)


def test_moving_from_local_keys_to_kms_is_a_rotation(kms, settings):
    local = keys.active_key("snapshots/tenant-2")
    assert DataKey.objects.get(pk=local.id).kek_id == "test1"
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    settings.KMS_KEYS = [("kms1", arn)]
    assert keys_wrapping.primary_key_id() == "kms1"
    call_command("rotate_encryption_keys", stdout=io.StringIO(), stderr=io.StringIO())
    assert DataKey.objects.get(pk=local.id).kek_id == "kms1"
    settings.FIELD_ENCRYPTION_KEYS = [("other", b"o" * 32)]  # the local KEKs are gone
    keys.forget_cached_keys()
    assert keys.data_key("snapshots/tenant-2", local.id) == local.key


def test_a_disabled_kms_key_is_named_with_kms_reason(kms, settings):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    settings.KMS_KEYS = [("kms1", key_id)]
    active = keys.active_key("snapshots/tenant-3")
    kms.disable_key(KeyId=key_id)
    keys.forget_cached_keys()
    with pytest.raises(keys_wrapping.KmsKeyUnavailable, match="KMS key kms1 is unavailable") as e:
        keys.data_key("snapshots/tenant-3", active.id)
    assert e.value.disabled and "Disabled" in str(e.value)
    assert isinstance(e.value, DecryptionError)
