"""The three shared tables of migration 120 (contract section 7), as Django models.

Table and column names match the SQL migration so that the gateway and other ML services can
share the database; ``service_name`` is always ``django`` for rows we write.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import F, Q

SERVICE_NAMES = [("fastapi", "fastapi"), ("django", "django"), ("nestjs", "nestjs")]
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
ENDPOINT_CATEGORIES = ["embeddings", "rag", "analysis", "complexity", "transcription", "other"]


class RequestLog(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(null=True, blank=True)
    organization_id = models.UUIDField(null=True, blank=True)
    service_name = models.CharField(max_length=50, choices=SERVICE_NAMES, default="django")
    endpoint = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    request_payload = models.JSONField(null=True, blank=True)
    response_payload = models.JSONField(null=True, blank=True)
    status_code = models.IntegerField()
    error_message = models.TextField(null=True, blank=True)
    duration_ms = models.IntegerField()
    credits_charged = models.IntegerField(null=True, default=0)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(null=True, blank=True)
    request_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)

    class Meta:
        db_table = "ml_service_requests"
        ordering = ["-created_at"]
        verbose_name = "request"
        constraints = [
            models.CheckConstraint(
                condition=Q(service_name__in=[n for n, _ in SERVICE_NAMES]), name="ml_requests_service_name_check"
            ),
            models.CheckConstraint(condition=Q(method__in=HTTP_METHODS), name="ml_requests_method_check"),
            models.CheckConstraint(condition=Q(duration_ms__gte=0), name="ml_requests_duration_check"),
        ]
        indexes = [
            models.Index(fields=["user_id"], name="idx_ml_requests_user", condition=Q(user_id__isnull=False)),
            models.Index(
                fields=["organization_id"], name="idx_ml_requests_org", condition=Q(organization_id__isnull=False)
            ),
            models.Index(fields=["-created_at"], name="idx_ml_requests_created"),
            models.Index(fields=["service_name", "endpoint"], name="idx_ml_requests_service_ep"),
            models.Index(fields=["status_code"], name="idx_ml_requests_status"),
            models.Index(
                fields=["user_id", "-created_at"],
                name="idx_ml_requests_user_created",
                condition=Q(user_id__isnull=False),
            ),
            models.Index(fields=["-created_at"], name="idx_ml_requests_errors", condition=Q(status_code__gte=400)),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} {self.status_code}"


class UsageDaily(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(null=True, blank=True)
    organization_id = models.UUIDField(null=True, blank=True)
    date = models.DateField()
    service_name = models.CharField(max_length=50, choices=SERVICE_NAMES, default="django")
    endpoint_category = models.CharField(max_length=50, choices=[(c, c) for c in ENDPOINT_CATEGORIES])
    total_requests = models.IntegerField(default=0)
    total_credits = models.IntegerField(default=0)
    total_duration_ms = models.BigIntegerField(default=0)
    avg_duration_ms = models.IntegerField(null=True, blank=True)
    success_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ml_service_usage"
        ordering = ["-date", "endpoint_category"]
        verbose_name = "daily usage"
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "organization_id", "date", "service_name", "endpoint_category"],
                name="ml_usage_unique",
            ),
            models.CheckConstraint(
                condition=Q(total_requests__gte=0) & Q(success_count__gte=0) & Q(error_count__gte=0),
                name="ml_usage_counts_check",
            ),
            models.CheckConstraint(
                condition=Q(total_requests=F("success_count") + F("error_count")),
                name="ml_usage_success_error_check",
            ),
            models.CheckConstraint(
                condition=Q(endpoint_category__in=ENDPOINT_CATEGORIES), name="ml_usage_category_check"
            ),
        ]
        indexes = [
            models.Index(
                fields=["user_id", "-date"], name="idx_ml_usage_user_date", condition=Q(user_id__isnull=False)
            ),
            models.Index(
                fields=["organization_id", "-date"],
                name="idx_ml_usage_org_date",
                condition=Q(organization_id__isnull=False),
            ),
            models.Index(fields=["-date"], name="idx_ml_usage_date"),
            models.Index(fields=["service_name", "endpoint_category"], name="idx_ml_usage_service_cat"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.endpoint_category}: {self.total_requests}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Mirrors the migration's trigger_ml_usage_avg_duration (integer division).
        self.avg_duration_ms = self.total_duration_ms // self.total_requests if self.total_requests else 0
        super().save(*args, **kwargs)


class CacheEntry(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cache_key = models.CharField(max_length=255, unique=True)
    request_hash = models.CharField(max_length=64, db_index=True)
    endpoint = models.CharField(max_length=255, db_index=True)
    service_name = models.CharField(max_length=50, choices=SERVICE_NAMES, null=True, blank=True)
    response_data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    hit_count = models.IntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)
    size_bytes = models.IntegerField(null=True, blank=True)

    class Meta:
        db_table = "ml_service_cache"
        ordering = ["-created_at"]
        verbose_name = "cached response"
        constraints = [
            models.CheckConstraint(condition=Q(hit_count__gte=0), name="ml_cache_hit_count_check"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], name="idx_ml_cache_expires", condition=Q(expires_at__isnull=False)),
            models.Index(fields=["-created_at"], name="idx_ml_cache_created"),
            models.Index(fields=["-last_hit_at"], name="idx_ml_cache_last_hit", condition=Q(last_hit_at__isnull=False)),
            models.Index(fields=["-hit_count", "-last_hit_at"], name="idx_ml_cache_hot", condition=Q(hit_count__gt=10)),
        ]

    def __str__(self) -> str:
        return self.cache_key
