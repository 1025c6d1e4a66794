"""The settings a run uses: the user's (flags, environment, config file), plus what follows from
their choices wherever they did not set a value themselves."""

from __future__ import annotations

from typing import Any

from tracer_cli.agent.profiles import PROFILES
from tracer_cli.config import Settings, imply_backend, load
from tracer_cli.models import resolve


def effective(flags: dict[str, Any] | None = None) -> Settings:
    """load(), plus what follows from the choices the user made: naming a server selects the
    openai backend; a local model brings its profile, image budget and answer budget, a profile
    its answer budget, wherever the user did not set them. (The image geometry is the
    profile's: see profiles/geometry.py.)"""
    settings, sources = load(flags)
    imply_backend(settings, sources)
    if settings.backend == "script":
        # A script holds one recorded answer per step, with the points to use: replay it so
        # (every step asked for, and no zoom turn that would take the next step's answer).
        if sources["replan"] == "default":
            settings.replan = "always"
        if sources["zoom"] == "default":
            settings.zoom = False
    if settings.backend == "llama":
        spec = resolve(settings.model, settings.mmproj)
        for name in ("profile", "max_pixels", "max_tokens"):
            if sources[name] == "default" and getattr(spec, name):
                setattr(settings, name, getattr(spec, name))
    profile = PROFILES.get(settings.profile)
    if not settings.max_tokens:
        settings.max_tokens = profile.max_tokens
    if settings.history_images < 0:
        settings.history_images = profile.history_images
    return settings
