from django.apps import AppConfig


class FakeioConfig(AppConfig):
    name = "ioportal.fakeio"
    verbose_name = "IO simulator"
