"""Test helpers for the native (Cython) side of the packet metadata and of
match expressions: a small builder of Cython test extensions and the packet
generators shared by the differential tests."""
