from django.urls import path

from .metrics_view import MetricsView
from .views import HealthView, LiveView, ReadyView, ServiceIndexView

urlpatterns = [
    path("", ServiceIndexView.as_view(), name="index"),
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadyView.as_view(), name="health-ready"),
    path("ready", ReadyView.as_view(), name="ready"),
    path("health/live", LiveView.as_view(), name="health-live"),
    path("live", LiveView.as_view(), name="live"),
    path("metrics", MetricsView.as_view(), name="metrics"),
]
