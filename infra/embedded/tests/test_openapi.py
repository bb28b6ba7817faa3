from uise_stack.openapi import drift


def test_committed_openapi_matches_the_services():
    stale = drift()
    assert not stale, f"run `make openapi` and commit: {stale}"
