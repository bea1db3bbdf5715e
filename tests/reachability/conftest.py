from tests.sending.conftest import _fresh_limiter_cache, start_simulator

__all__ = ["_fresh_limiter_cache", "start_simulator"]
