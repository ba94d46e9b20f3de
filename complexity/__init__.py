"""The task-complexity app (HTTP layer): ``/complexity/*`` routes that estimate a task's level
and compare an estimate with the actual effort. The scoring rules are
``services.complexity_service.ComplexityService``.
"""
