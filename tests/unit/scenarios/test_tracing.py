from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from scenarios.tracing import BAGGAGE, TRACEPARENT, new_request_ids, user_rng, uuid4_text


def test_traceparent_is_a_sampled_w3c_version_00_header() -> None:
    ids = new_request_ids(random.Random(7))
    match = TRACEPARENT.fullmatch(ids.traceparent)
    assert match is not None
    assert match["trace_id"] == ids.trace_id
    assert match["span_id"] == ids.span_id
    assert ids.traceparent.endswith("-01")
    assert int(ids.trace_id, 16) != 0
    assert int(ids.span_id, 16) != 0


def test_headers_carry_traceparent_request_id_and_synthetic_baggage() -> None:
    ids = new_request_ids(random.Random(7))
    assert ids.headers() == {
        "traceparent": ids.traceparent,
        "X-Request-ID": ids.request_id,
        "baggage": "synthetic_request=true",
    }
    assert BAGGAGE == "synthetic_request=true"
    assert uuid.UUID(ids.request_id).version == 4


def test_every_request_gets_fresh_ids() -> None:
    rng = random.Random(1)
    drawn = [new_request_ids(rng) for _ in range(1000)]
    assert len({ids.trace_id for ids in drawn}) == 1000
    assert len({ids.span_id for ids in drawn}) == 1000
    assert len({ids.request_id for ids in drawn}) == 1000


def test_an_all_zero_draw_is_never_used() -> None:
    class Zeros(random.Random):
        calls = 0

        def getrandbits(self, k: int, /) -> int:
            self.calls += 1
            return 0 if self.calls == 1 else 5

    ids = new_request_ids(Zeros())
    assert ids.trace_id == f"{5:032x}"


def test_a_seeded_user_draws_the_same_ids_on_every_run() -> None:
    first = [new_request_ids(user_rng(1, 0, "Customer", 3)) for _ in range(3)]
    again = [new_request_ids(user_rng(1, 0, "Customer", 3)) for _ in range(3)]
    assert first == again
    rng_a, rng_b = user_rng(1, 0, "Customer", 3), user_rng(1, 0, "Customer", 3)
    assert [new_request_ids(rng_a) for _ in range(5)] == [new_request_ids(rng_b) for _ in range(5)]


def test_users_and_seeds_draw_different_ids() -> None:
    base = new_request_ids(user_rng(1, 0, "Customer", 0))
    assert new_request_ids(user_rng(1, 0, "Customer", 1)) != base
    assert new_request_ids(user_rng(1, 1, "Customer", 0)) != base
    assert new_request_ids(user_rng(1, 0, "IoTDevice", 0)) != base
    assert new_request_ids(user_rng(2, 0, "Customer", 0)) != base


def test_without_a_seed_ids_differ_between_runs() -> None:
    assert new_request_ids(user_rng(None, 0, "Customer", 0)) != new_request_ids(
        user_rng(None, 0, "Customer", 0)
    )


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_the_request_id_is_the_uuid_module_s_version_4_of_the_same_bits(bits: int) -> None:
    assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
