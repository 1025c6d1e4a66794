"""The desktop: seeing it (``screen``), acting on it (``actuator``), and being stopped from it
(``killswitch``)."""
