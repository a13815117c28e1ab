"""Static files: hashed and compressed once `collectstatic` has run, served as they are before.

Without a manifest, Django's manifest storage cannot name any static file, so every page failed
with a 500 on a deployment that had run `migrate` but not `collectstatic`. Until the manifest
exists, pages name the files unhashed and whitenoise serves them from the apps' folders
(WHITENOISE_USE_FINDERS): everything works, browsers just cannot cache the files for long.
"""

from __future__ import annotations

import logging

from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticStorage(CompressedManifestStaticFilesStorage):
    _warned = False

    def stored_name(self, name: str) -> str:
        if self.hashed_files:
            return str(super().stored_name(name))
        if not StaticStorage._warned:
            StaticStorage._warned = True
            logger.warning(
                "No static files manifest in %s: serving static files unhashed. "
                "Run `manage.py collectstatic` so browsers can cache them.",
                self.location,
            )
        return name
