from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import models
from django.db.models.functions import Now

KEY_PREFIX = "mls_"


def hash_key(raw_key: str) -> str:
    """Keys are stored as SHA-256: high-entropy random tokens need no slow password hash."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def revoke(self) -> int:
        # A bulk update skips save(), so it stamps updated_at itself: the workers' key caches watch it.
        return self.update(revoked=True, updated_at=Now())


class ApiKey(models.Model):
    name = models.CharField(max_length=100, help_text="Who or what uses this key")
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a key")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Every change stamps this with the database's clock (not the app's: instances' clocks may
    # differ), so each worker sees a change within a second by reading max(updated_at) and count.
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked = models.BooleanField(default=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        self.updated_at = Now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}
        super().save(*args, **kwargs)
        # Replace the expression by the stored value.
        self.refresh_from_db(fields=["updated_at"])

    def assign_new_secret(self) -> str:
        """Give this key a fresh random value; the raw value is returned once and never stored."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        self.prefix, self.key_hash = raw[:12], hash_key(raw)
        return raw

    @classmethod
    def generate(cls, name: str) -> tuple[ApiKey, str]:
        key = cls(name=name)
        raw = key.assign_new_secret()
        key.save()
        return key, raw
