"""The frame path's sans-I/O core: events and the current time in, decisions out.

``scheduler.py`` decides when each render area renders and for whom; ``sending.py`` owns each
connection's outgoing frames (window, slot, key-frame need, rate); ``pacing.py`` counts frames in
flight and adapts quality and rate to the link; ``render_scale.py`` shrinks an area's interactive
renders while their cost cannot hold the rate; ``frames.py`` types what is handed from the
renderer to the encoders to the socket. Nothing here does I/O, reads a clock or calls a listener:
the service core (:mod:`remoteviz.service_core`) and the frame path (:mod:`remoteviz.frame_path`)
call it, and carry out what it decides.

Each of its objects owns its state: the fields are private and declared in ``__slots__`` (none can
be added from outside), read through properties without setters, and changed only by the owner's
methods, named for what happened (``tests/unit/test_core_ownership.py`` checks).
"""
