"""The IO simulator: a fake of IO's services API (profiles, messages, feed) for dev and tests.

It runs as its own process (`python -m ioportal.fakeio` or `manage.py fakeio`) and imports
nothing from Django, so tests and benchmarks can start it without settings.
"""
