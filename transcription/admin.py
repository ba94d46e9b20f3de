from django.contrib import admin

from .models import TranscriptionJob


@admin.register(TranscriptionJob)
class TranscriptionJobAdmin(admin.ModelAdmin):
    """Jobs are written by the service; the admin looks, and may delete."""

    list_display = ("created_at", "status", "progress", "filename", "duration", "backend", "model", "id")
    list_filter = ("status", "backend")
    search_fields = ("id", "filename", "error")
    readonly_fields = [field.name for field in TranscriptionJob._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
