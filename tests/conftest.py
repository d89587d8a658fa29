"""Tests import the installed emx package. For development without installing,
build the extension and put it in python/emx (see README, "Developing")."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
