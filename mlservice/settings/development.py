"""Development (DJANGO_ENV=development, the default): the base settings.

DEBUG stays off unless DJANGO_DEBUG=true, as the README's table says, so `make run` serves as
production does; with it on, errors keep the contract's JSON shape (mlservice/api/error_pages.py).
"""

from .base import *
