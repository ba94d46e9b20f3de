"""manage.py apikey create NAME | list | revoke PREFIX_OR_ID"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apikeys.models import ApiKey
from services.auth_service import env_key_identity


class Command(BaseCommand):
    help = "Create, list or revoke API keys (stored hashed; the raw key is printed once on creation)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it once")
        create.add_argument("name")
        sub.add_parser("list", help="list keys (never their values)")
        revoke = sub.add_parser("revoke", help="revoke a key by id or prefix")
        revoke.add_argument("key")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        if action == "create":
            key, raw = ApiKey.generate(str(options["name"]))
            self.stdout.write(raw)
            self.stderr.write(f"Created key #{key.pk} for {key.name}. Store it now: it cannot be shown again.")
        elif action == "list":
            # The names logs and throttles use for ML_SERVICE_API_KEYS entries (never the keys).
            for position, raw in enumerate(settings.ML_SERVICE_API_KEYS, start=1):
                self.stdout.write(f"{env_key_identity(raw)}\tML_SERVICE_API_KEYS entry {position}")
            for key in ApiKey.objects.all():
                state = "revoked" if key.revoked else "active"
                used = key.last_used_at.isoformat() if key.last_used_at else "never"
                self.stdout.write(f"{key.pk}\t{key.prefix}…\t{state}\t{key.name}\tlast used {used}")
        else:
            ident = str(options["key"])
            matches = (
                ApiKey.objects.filter(pk=int(ident)) if ident.isdigit() else ApiKey.objects.filter(prefix=ident[:12])
            )
            if matches.count() != 1:
                raise CommandError(f"No single key matches {ident!r}")
            matches.revoke()
            self.stdout.write(f"Revoked {ident}")
