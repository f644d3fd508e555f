"""The parser under a seeded fuzzer: whatever a client sends, a message or a ProtocolError."""

from remoteviz import protocol
from remoteviz.testing.fuzz import MESSAGE_TYPES, ProtocolFuzzer

MESSAGES = 25_000


def test_every_fuzzed_message_parses_or_is_a_protocol_error() -> None:
    fuzzer = ProtocolFuzzer(seed=9)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(MESSAGES):
        data = fuzzer.message()
        try:
            message = (protocol.parse_client_text(data) if isinstance(data, str)
                       else protocol.parse_client_binary(data))
        except protocol.ProtocolError as error:
            assert str(error), data
            outcomes["refused"] += 1
            continue
        # What parses serialises again (the service may relay or log it): valid Unicode throughout.
        serialized = protocol.serialize(message)
        if isinstance(serialized, str):
            serialized.encode("utf-8")
        outcomes["parsed"] += 1
    assert sum(fuzzer.counts.values()) == MESSAGES
    assert all(fuzzer.counts[kind] > 1000 for kind in MESSAGE_TYPES), fuzzer.counts
    assert outcomes["parsed"] > 5000 and outcomes["refused"] > 5000, outcomes


def test_the_same_seed_makes_the_same_messages() -> None:
    one, two = ProtocolFuzzer(seed=3), ProtocolFuzzer(seed=3)
    assert [one.message() for _ in range(200)] == [two.message() for _ in range(200)]
