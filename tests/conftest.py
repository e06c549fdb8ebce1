import os
import tempfile

# Keep the episode-index cache of the test run away from the user's cache.
os.environ.setdefault("GYM_LANGREARRANGE_CACHE", tempfile.mkdtemp(prefix="glr-test-cache-"))
