"""Shared code of the twelve-factor hit counter, shipped as a Lambda layer (/opt/python)."""
