import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.mesos.recordio import RecordIODecoder, RecordIOError, encode

records_strategy = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, last = [], 0
    for point in points + [len(data)]:
        chunks.append(data[last:point])
        last = point
    return chunks


@settings(max_examples=300)
@given(records=records_strategy, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_any_chunking_yields_the_records_in_order(records, cuts):
    stream = b"".join(encode(r) for r in records)
    decoder = RecordIODecoder()
    out = []
    for chunk in split_at(stream, cuts):
        out.extend(decoder.feed(chunk))
    assert out == records
    assert decoder.pending_bytes == 0


@given(records=records_strategy)
def test_byte_at_a_time(records):
    stream = b"".join(encode(r) for r in records)
    decoder = RecordIODecoder()
    out = []
    for i in range(len(stream)):
        out.extend(decoder.feed(stream[i : i + 1]))
    assert out == records


@given(records=st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=10), cut=st.integers(min_value=1))
def test_incomplete_tail_is_held_not_emitted(records, cut):
    stream = b"".join(encode(r) for r in records)
    cut = cut % len(stream)
    decoder = RecordIODecoder()
    first = decoder.feed(stream[:cut])
    # Only whole records come out, and they are a prefix of the sent ones.
    assert first == records[: len(first)]
    assert first + decoder.feed(stream[cut:]) == records


def test_multibyte_utf8_length_counts_bytes():
    record = '{"message":"héllo ✓"}'.encode()
    assert RecordIODecoder().feed(encode(record)) == [record]
    assert encode(record).startswith(b"%d\n" % len(record))


@pytest.mark.parametrize(
    "stream",
    [b"abc\n{}", b"-3\nabc", b"0\n", b"1a\nx", b"123456789012345678901234\n", b"x" * 30],
    ids=["letters", "negative", "zero", "mixed", "too-many-digits", "no-newline-garbage"],
)
def test_bad_prefix_is_an_error(stream):
    with pytest.raises(RecordIOError):
        RecordIODecoder().feed(stream)


def test_oversized_record_is_refused_before_buffering():
    decoder = RecordIODecoder(max_record_bytes=10)
    with pytest.raises(RecordIOError, match="exceeds"):
        decoder.feed(b"11\n")


def test_records_before_bad_bytes_are_delivered_then_the_error():
    decoder = RecordIODecoder()
    assert decoder.feed(encode(b"good") + b"garbage\n") == [b"good"]
    with pytest.raises(RecordIOError):
        decoder.feed(b"")
