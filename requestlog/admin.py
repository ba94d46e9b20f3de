from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from .models import CacheEntry, RequestLog, UsageDaily


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are written by the service; the admin only looks."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "method", "endpoint", "status_code", "duration_ms", "request_id", "user_id")
    list_filter = ("method", "status_code", "service_name")
    search_fields = ("endpoint", "request_id", "error_message")
    date_hierarchy = "created_at"


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "endpoint_category",
        "total_requests",
        "success_count",
        "error_count",
        "avg_duration_ms",
        "user_id",
    )
    list_filter = ("endpoint_category", "service_name", "date")


@admin.register(CacheEntry)
class CacheEntryAdmin(ReadOnlyAdmin):
    # The shared ml_service_cache table (contract section 7): written by the services, never by hand.
    list_display = ("cache_key", "endpoint", "hit_count", "last_hit_at", "expires_at", "size_bytes")
    search_fields = ("cache_key", "endpoint")
    readonly_fields = ("request_hash", "response_data", "hit_count", "last_hit_at", "size_bytes", "created_at")
