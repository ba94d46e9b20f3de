from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from .models import TranscriptionJob


@admin.register(TranscriptionJob)
class TranscriptionJobAdmin(admin.ModelAdmin):
    """Jobs are written by the service; the admin looks, and may delete."""

    list_display = ("created_at", "status", "progress", "filename", "duration", "backend", "model", "id")
    list_filter = ("status", "backend")
    search_fields = ("id", "filename", "error")
    readonly_fields = [field.name for field in TranscriptionJob._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
