"""Which steps are risky: tracer's own rules, applied to the step about to run.

The rules look only at the step itself (its target, the text it types, the keys it presses)
and at the element typed into. Nothing the model says ("this is safe") and nothing written on the
screen can turn a risky step into a safe one: a prompt-injected instruction can make the model
propose a step, never skip its confirmation.
"""

from __future__ import annotations

import re

from tracer_cli.plan import BaseStep, Hotkey, PointStep, Type


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(phrases) + r")\b", re.IGNORECASE)


# Clicking these commits something that is hard to take back.
CONSEQUENTIAL = _words(
    r"buy(\s+now)?", r"purchase", r"pay(\s+now)?", r"payment", r"check\s*out", r"place\s+(the\s+)?order",
    r"submit\s+(the\s+)?order", r"order\s+now", r"confirm\s+(the\s+)?(order|purchase|payment|transfer)",
    r"delete", r"remove", r"erase", r"wipe", r"destroy", r"uninstall", r"empty\s+(the\s+)?trash",
    r"send", r"transfer", r"wire", r"withdraw", r"donate", r"subscribe",
    r"close\s+without\s+saving", r"don'?t\s+save", r"discard", r"format\s+(the\s+)?(disk|drive)",
    r"factory\s+reset", r"sign\s+(the\s+)?contract", r"accept\s+(the\s+)?(offer|terms)")
# Typing into these puts secrets or money details somewhere.
SENSITIVE_FIELD = _words(
    r"password", r"passphrase", r"passcode", r"pin", r"otp", r"one[-\s]time\s+code",
    r"2fa", r"security\s+code", r"cvv", r"cvc", r"card\s+number", r"credit\s+card", r"iban",
    r"account\s+number", r"routing\s+number", r"social\s+security", r"ssn", r"secret", r"api\s+key",
    r"token")
# Shell commands that delete or overwrite.
DESTRUCTIVE_COMMAND = re.compile(
    r"(^|[;&|`$(]\s*|\bsudo\s+)(rm\s+(-\w*\s+)*|rmdir\b|shred\b|mkfs(\.\w+)?\b|dd\s+.*\bof=|"
    r"del\s+/|rd\s+/s|format\s+[a-z]:|truncate\s+-s\s*0|git\s+(clean\s+-\w*f|reset\s+--hard|"
    r"push\s+(-f|--force))|>\s*/dev/sd|chmod\s+-R\s+0|find\s+.*-delete\b)"
    r"|\b(drop\s+(table|database)|delete\s+from)\b",
    re.IGNORECASE | re.MULTILINE)
# Keys that close, quit or delete.
RISKY_CHORDS = {
    frozenset({"alt", "f4"}): "closes the window",
    frozenset({"ctrl", "w"}): "closes the tab or window",
    frozenset({"ctrl", "q"}): "quits the application",
    frozenset({"command", "q"}): "quits the application",
    frozenset({"command", "w"}): "closes the window",
    frozenset({"shift", "delete"}): "deletes permanently",
    frozenset({"ctrl", "shift", "delete"}): "clears browsing data",
    frozenset({"ctrl", "alt", "delete"}): "opens the system's session menu",
    frozenset({"ctrl", "alt", "backspace"}): "can kill the X session",
}


def needs_asking(policy: str, risk: str | None) -> bool:
    """Whether a step is put to the user under the ``confirm`` policy: always, or when tracer's
    rules find it risky (``risk``, what ``assess`` says), or never."""
    return policy == "always" or (policy == "risky" and bool(risk))


def assess(step: BaseStep, typing_into: str = "") -> str | None:
    """Why ``step`` needs the user's confirmation, or None. ``typing_into`` describes the
    element a type step goes into (the target of the click before it)."""
    if isinstance(step, PointStep):
        match = CONSEQUENTIAL.search(step.target)
        if match:
            return f"clicks {step.target!r}, which may {match.group(0).lower()} something"
    if isinstance(step, Type):
        field = SENSITIVE_FIELD.search(typing_into)
        if field:
            return f"types into what looks like a {field.group(0).lower()} field ({typing_into!r})"
        command = DESTRUCTIVE_COMMAND.search(step.text)
        if command:
            return f"types a command that deletes or overwrites ({command.group(0).strip()!r})"
    if isinstance(step, Hotkey):
        reason = RISKY_CHORDS.get(frozenset(step.keys))
        if reason:
            return f"presses {'+'.join(step.keys)}, which {reason}"
    return None
