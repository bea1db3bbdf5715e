"""The portal's date and number formats per language (settings.FORMAT_MODULE_PATH).

Only languages whose Django defaults do not suit the portal have a module here; the others
keep Django's (`django/conf/locale/<lang>/formats.py`)."""
