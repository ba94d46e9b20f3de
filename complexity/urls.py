from django.urls import path

from . import views

urlpatterns = [
    path("complexity/estimate", views.EstimateView.as_view(), name="complexity-estimate"),
    path("complexity/pre-estimate", views.EstimateView.as_view(), name="complexity-pre-estimate"),
    path("complexity/analyze", views.AnalyzeView.as_view(), name="complexity-analyze"),
    path("complexity/post-analyze", views.AnalyzeView.as_view(), name="complexity-post-analyze"),
    path("complexity/adjustment", views.AdjustmentView.as_view(), name="complexity-adjustment"),
    path("complexity/calculate-adjustment", views.AdjustmentView.as_view(), name="complexity-calculate-adjustment"),
    path("complexity/scale", views.ScaleView.as_view(), name="complexity-scale"),
    path("complexity/health", views.ComplexityHealthView.as_view(), name="complexity-health"),
]
