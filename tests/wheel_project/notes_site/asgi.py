import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_site.settings")

from steps.application import get_asgi_application

application = get_asgi_application()
