"""API keys stored in the database (hashed), their admin pages (a new key is shown once), the
``manage.py apikey`` command and the admin login throttle. Authentication itself is
``mlservice.api.auth`` over ``services.auth_service``.
"""
