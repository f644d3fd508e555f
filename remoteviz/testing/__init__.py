"""Tools to test a remoteviz service from outside, as a hostile or a well-behaved browser would.

- :mod:`remoteviz.testing.fuzz`: a seeded protocol fuzzer (client messages of every type, valid
  or mutated);
- :mod:`remoteviz.testing.abuse`: attackers (fuzzing, flooding, churning, downloading) and a
  bystander that counts the frames a well-behaved viewer keeps receiving meanwhile.

They serve the fault tests (``tests/integration/test_faults.py``, ``tests/unit/test_protocol_fuzz.py``)
and ``benchmarks/abuse.py``, and an application's own tests may use them. They are not part of
the service: no module of ``remoteviz`` outside this package imports it (``tests/unit/test_layering.py``
checks it), so nothing of it runs in a service.
"""
