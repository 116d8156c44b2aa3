# Appended to the settings.py that `django-admin startproject` wrote: what a project adds to
# use the engine.
INSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "ninja", "streams", "steps", "notes"]  # noqa: F821
ASGI_APPLICATION = "notes_site.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
