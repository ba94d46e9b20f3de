from .base import *

DEBUG = False
REQUEST_LOG_SYNC = True
WARM_MODELS_ON_START = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
