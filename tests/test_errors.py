"""COMError in comtypes' shape, and the readable errors Python callers get."""

import pickle

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import COMError, E_FAIL, MAPI_E_USER_CANCEL


def test_comerror_has_comtypes_shape():
    details = ("description", "source", None, 0, None)  # comtypes' error-info tuple
    error = COMError(E_FAIL, "text", details)
    assert (error.hresult, error.text, error.details) == (E_FAIL, "text", details)
    assert error.args == (E_FAIL, "text", details)  # what comtypes' COMError.args holds
    assert str(error) == "E_FAIL (0x80004005): text"
    assert COMError(hresult=E_FAIL, text="t", details=1).details == 1


def test_the_short_forms_keep_working():
    assert (COMError(E_FAIL, "why").text, COMError(E_FAIL, "why").details) == ("why", None)
    bare = COMError(MAPI_E_USER_CANCEL)
    assert (bare.text, bare.details, bare.name) == (None, None, "MAPI_E_USER_CANCEL")
    assert str(bare) == "MAPI_E_USER_CANCEL (0x80040113)"
    assert COMError(0x80004005).hresult == E_FAIL  # unsigned in, signed out


def test_comerror_pickles_with_every_part():
    error = pickle.loads(pickle.dumps(COMError(E_FAIL, "text", {"k": 1})))
    assert (error.hresult, error.text, error.details) == (E_FAIL, "text", {"k": 1})


def test_refcount_of_something_that_is_not_ours_is_a_clear_typeerror():
    with pytest.raises(TypeError, match="com_refcount\\(\\) needs a COMObject, not int"):
        m.com_refcount(5)  # type: ignore[arg-type]
