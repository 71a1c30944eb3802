"""Tests of the protocol logic (issue 7)."""
