"""The settings a run uses: the user's (flags, environment, config file), plus what follows from
their choices wherever they did not set a value themselves."""

from __future__ import annotations

from typing import Any

from tracer_cli.agent.profiles import PROFILES
from tracer_cli.config import Settings, imply_backend, load
from tracer_cli.models import resolve


def effective(flags: dict[str, Any] | None = None) -> Settings:
    """load(), plus what follows from the choices the user made: naming a server selects the
    openai backend; a local model brings its profile, image budget and answer budget (from the
    catalogue, a smaller image budget when it runs on a CPU: see cpu_budget), a profile its
    answer budget, wherever the user did not set them. (The image geometry is the profile's:
    see profiles/geometry.py.)"""
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
        if sources["max_pixels"] == "default" and not settings.max_pixels:
            settings.max_pixels = cpu_budget(settings)
    profile = PROFILES.get(settings.profile)
    if not settings.max_tokens:
        settings.max_tokens = profile.max_tokens
    if settings.history_images < 0:
        settings.history_images = profile.history_images
    return settings


def cpu_budget(settings: Settings) -> int:
    """The catalogue's image budget (pixels) for its model on a CPU, 0 if none applies.

    On a CPU the vision encoder is most of a planning call and grows faster than its image
    tokens (README, "What a step costs on a CPU"): a catalogue Qwen3-VL plans on 512 image tokens
    there, and each click is placed again on a full-resolution crop (zoom), so the detail a click
    is grounded on stays above the family's grounding minimum. On a GPU, or with --max-pixels,
    the profile's default or the user's budget applies."""
    if settings.backend != "llama":
        return 0
    spec = resolve(settings.model, settings.mmproj)
    if not spec.cpu_image_tokens:
        return 0
    from tracer_cli.agent.backends.llama import gpu_layers
    from tracer_cli.errors import ConfigError

    try:
        on_cpu = gpu_layers(settings.gpu_layers) == 0
    except (ConfigError, ImportError):
        on_cpu = True
    return spec.cpu_image_tokens * PROFILES.get(settings.profile).geometry.token_pixels if on_cpu else 0


def zooms_on_cpu_budget(settings: Settings) -> bool:
    """Whether the run plans on the catalogue's CPU budget (cpu_budget) with zoom on: a budget
    under the family's grounding minimum is then no news (each click is placed again on a
    full-resolution crop), for the warning at start and for `tracer doctor`."""
    return bool(settings.zoom) and settings.max_pixels == cpu_budget(settings)
