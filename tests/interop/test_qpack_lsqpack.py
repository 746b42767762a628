"""QPACK against ls-qpack (pylsqpack, the QPACK library aioquic uses):
ls-qpack decodes the field sections strata's encoder produced, with their
encoder streams, including sections that arrive before their inserts.
The other direction (strata decoding ls-qpack's sections) is the Rust test
`http::qpack::vectors::sections_encoded_by_ls_qpack_decode`."""
import os
import sys

import pytest

pylsqpack = pytest.importorskip("pylsqpack")

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "peers"))

import qpack_vectors  # noqa: E402

VECTORS = os.path.join(HERE, "..", "..", "crates", "strata", "src", "http", "qpack", "vectors")


def test_ls_qpack_decodes_strata_sections():
    assert qpack_vectors.check(os.path.join(VECTORS, "strata.json")) == 340


def test_ls_qpack_vectors_decode_with_ls_qpack():
    # The committed ls-qpack vectors are self-consistent for the installed
    # ls-qpack too (their generator asserted it when they were written).
    assert qpack_vectors.check(os.path.join(VECTORS, "pylsqpack.json")) == 440
