"""Many `tracer do` runs at once, each in its own sandbox desktop: the task file (tasks) and
running them N at a time (runner)."""
