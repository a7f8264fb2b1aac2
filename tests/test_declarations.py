"""Declarations: GUIDs, ABI types, HRESULTs, flags, and what one Interface derives."""

import ctypes
import logging

import pytest

import mapisync_ctypes as m
from mapisync_ctypes import (
    COMError, COMObject, GUID, HRESULT, IUnknown, Interface, Method, com_pointer, wrap,
)


def test_guid_parses_formats_compares_and_hashes():
    text = "{5024A385-2D44-486A-81A8-8F0ECB6071DD}"
    g = GUID(text)
    assert (g.Data1, g.Data2, g.Data3) == (0x5024A385, 0x2D44, 0x486A)
    assert bytes(g.Data4) == bytes([0x81, 0xA8, 0x8F, 0x0E, 0xCB, 0x60, 0x71, 0xDD])
    assert str(g) == text
    assert repr(g) == f'GUID("{text}")'
    assert GUID(text.lower().strip("{}")) == g
    assert GUID(g) == g and GUID(g) is not g
    assert g != m.IID_IMAPISyncProgressCallback
    assert {g: 1}[GUID(text)] == 1
    assert hash(GUID(text)) == hash(g)
    assert not GUID() and g
    assert ctypes.sizeof(GUID) == 16


def test_guid_rejects_bad_input_clearly():
    with pytest.raises(ValueError, match="not a GUID string"):
        GUID("{nope}")
    with pytest.raises(TypeError, match="GUID"):
        GUID(42)


def test_iids_match_the_spec():
    assert str(m.IID_IUnknown) == "{00000000-0000-0000-C000-000000000046}"
    assert str(m.IID_IMAPISync) == "{5024A385-2D44-486A-81A8-8F0ECB6071DD}"
    assert str(m.IID_IMAPISyncProgressCallback) == "{5024A386-2D44-486A-81A8-8F0ECB6071DD}"


def test_types_have_windows_sizes_on_every_platform():
    assert ctypes.sizeof(m.ULONG) == 4 and m.ULONG(-1).value == 0xFFFFFFFF
    assert ctypes.sizeof(m.HRESULT) == 4 and m.HRESULT(0x80004005).value < 0
    assert ctypes.sizeof(m.WCHAR) == 2
    assert ctypes.sizeof(m.HANDLE) == ctypes.sizeof(ctypes.c_void_p)
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(m.MAPISIB) == (32 if ptr == 8 else 20)
    assert [getattr(m.MAPISIB, f).offset for f in
            ("ulSize", "ulFlags", "psesSync", "punkCallBack", "phSyncDoneEvent")] == \
        ([0, 4, 8, 16, 24] if ptr == 8 else [0, 4, 8, 12, 16])


@pytest.mark.parametrize("name, unsigned", [
    ("S_OK", 0), ("S_FALSE", 1), ("E_NOTIMPL", 0x80004001), ("E_NOINTERFACE", 0x80004002),
    ("E_POINTER", 0x80004003), ("E_ABORT", 0x80004004), ("E_FAIL", 0x80004005),
    ("E_UNEXPECTED", 0x8000FFFF), ("E_OUTOFMEMORY", 0x8007000E), ("E_INVALIDARG", 0x80070057),
    ("MAPI_E_NO_SUPPORT", 0x80040102), ("MAPI_E_UNKNOWN_FLAGS", 0x80040106),
    ("MAPI_E_USER_CANCEL", 0x80040113), ("MAPI_E_NETWORK_ERROR", 0x80040115),
    ("MAPI_W_PARTIAL_COMPLETION", 0x00040680),
])
def test_hresult_constants_are_signed_and_named(name, unsigned):
    value = getattr(m, name)
    assert value == HRESULT(unsigned).value  # the signed value native code returns
    assert m.hresult_name(value) == name == m.hresult_name(unsigned)
    assert m.format_hresult(unsigned) == f"{name} (0x{unsigned:08X})"


def test_mapi_aliases_and_unknown_codes():
    assert m.MAPI_E_CALL_FAILED == m.E_FAIL
    assert m.MAPI_E_NOT_ENOUGH_MEMORY == m.E_OUTOFMEMORY
    assert m.MAPI_E_INVALID_PARAMETER == m.E_INVALIDARG
    assert m.format_hresult(0x80041234) == "HRESULT 0x80041234"
    assert m.failed(m.E_FAIL) and m.succeeded(m.S_FALSE)
    with pytest.raises(ValueError, match="32-bit"):
        m.to_hresult(1 << 32)


def test_comerror_carries_signed_hresult_and_readable_name():
    err = COMError(0x80040113, "Progress")
    assert err.hresult == m.MAPI_E_USER_CANCEL < 0
    assert err.name == "MAPI_E_USER_CANCEL"
    assert str(err) == "MAPI_E_USER_CANCEL (0x80040113): Progress"
    assert str(COMError(m.E_FAIL)) == "E_FAIL (0x80004005)"
    import pickle
    assert pickle.loads(pickle.dumps(err)).hresult == err.hresult


def test_sync_flags_match_the_spec():
    expected = {
        "SYNC_UPLOAD_HIERARCHY": 0x1, "SYNC_DOWNLOAD_HIERARCHY": 0x2, "SYNC_UPLOAD_CONTENTS": 0x40,
        "SYNC_DOWNLOAD_CONTENTS": 0x80, "SYNC_OUTGOING_MAIL": 0x200,
        "SYNC_GLOBAL_HEADERS": 0x02000000, "SYNC_ON_DEMAND": 0x20000000,
        "SYNC_BACKGROUND": 0x1000, "SYNC_THESE_FOLDERS": 0x20000,
    }
    for name, value in expected.items():
        flag = getattr(m, name)
        assert isinstance(flag, m.SyncFlags) and flag == value, name
    assert m.SYNC_KNOWN_FLAGS == sum(expected.values())
    combined = m.SYNC_UPLOAD_CONTENTS | m.SYNC_ON_DEMAND
    assert isinstance(combined, m.SyncFlags) and int(combined) == 0x20000040


def test_interface_declaration_drives_vtable_and_slots():
    cb = m.IMAPISyncProgressCallback
    assert [mt.name for mt in cb.methods] == ["QueryInterface", "AddRef", "Release",
                                              "Progress", "Error", "Done"]
    assert [mt.index for mt in cb.methods] == list(range(6))
    assert cb.base is IUnknown and cb.bases() == [cb, IUnknown]
    ptr = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(cb.vtable_type) == 6 * ptr
    assert [getattr(cb.vtable_type, mt.name).offset for mt in cb.methods] == [i * ptr for i in range(6)]
    assert cb.vtable_type.__name__ == "IMAPISyncProgressCallbackVtbl"
    expected = ctypes.WINFUNCTYPE if m.abi.IS_WINDOWS else ctypes.CFUNCTYPE
    assert cb.methods[3].prototype._flags_ == expected(ctypes.c_int)._flags_


def test_declaration_errors_are_clear():
    with pytest.raises(ValueError, match="already declared"):
        Interface("IAgain", "{00000000-0000-0000-0000-000000000001}", [IUnknown.methods[0]], base=IUnknown)
    with pytest.raises(ValueError, match="duplicate"):
        Interface("IDup", "{00000000-0000-0000-0000-000000000002}",
                  [Method("AddRef", m.ULONG)], base=IUnknown)
    with pytest.raises(TypeError, match="no boundary conversion"):
        Method("Bad", HRESULT, [("x", float)])


def test_a_new_interface_is_one_declaration(native):
    """Declare a new interface once; a Python object implements it, a proxy calls it."""
    IEcho = Interface("IEcho", "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", [
        Method("Echo", HRESULT, [("text", m.LPCWSTR), ("value", m.ULONG), ("out", ctypes.POINTER(m.ULONG))]),
    ], base=IUnknown)

    class Echo(COMObject):
        _com_interfaces_ = [IEcho, m.IMAPISyncProgressCallback]

        def Echo(self, text, value, out):
            out[0] = value + len(text)
            return m.S_FALSE

    obj = Echo()
    with wrap(com_pointer(obj, IEcho), IEcho, addref=False) as proxy:
        result = m.ULONG()
        assert proxy.Echo("four", 38, result) == m.S_FALSE
        assert result.value == 42
        with proxy.QueryInterface(m.IMAPISyncProgressCallback) as cb:
            with pytest.raises(COMError) as info:
                cb.Progress("not implemented", 0, 0)
            assert info.value.hresult == m.E_NOTIMPL
    # the IUnknown rules hold from C for the new interface too
    iids = (GUID * 2)(IEcho.iid, m.IID_IMAPISyncProgressCallback)
    msg = ctypes.create_string_buffer(4096)
    address = com_pointer(obj)
    try:
        assert native.host.host_check_iunknown(address, iids, 2, m.IID_IMAPISync, msg, 4096) == 0, msg.value
    finally:
        native.host.host_release(address, 1)


def test_library_never_prints(capsys, caplog):
    class Quiet(COMObject):
        _com_interfaces_ = [m.IMAPISyncProgressCallback]

        def Progress(self, *args):
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="mapisync_ctypes"):
        with wrap(com_pointer(Quiet(), m.IMAPISyncProgressCallback), m.IMAPISyncProgressCallback,
                  addref=False) as proxy:
            with pytest.raises(COMError):
                proxy.Progress("x", 1, 2)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert "boom" in caplog.text


def test_a_bad_interface_list_fails_at_class_definition():
    with pytest.raises(TypeError, match="not an Interface"):
        class Wrong(COMObject):
            _com_interfaces_ = ["IMAPISyncProgressCallback"]
    with pytest.raises(TypeError, match="lists no interface"):
        class Empty(COMObject):
            _com_interfaces_ = []


def test_a_near_miss_method_name_warns_at_class_definition():
    with pytest.warns(UserWarning, match=r"Typo\.Progess is not a method of IMAPISyncProgressCallback; "
                                         r"did you mean Progress\?"):
        class Typo(COMObject):
            _com_interfaces_ = [m.IMAPISyncProgressCallback]

            def Progess(self, text, ulIndex, ulIndexMax):
                pass
    with pytest.warns(UserWarning, match="did you mean Done"):
        class Lower(COMObject):
            _com_interfaces_ = [m.IMAPISyncProgressCallback]

            def done(self, handle, hr):
                pass
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class Fine(COMObject):  # helpers with other names are fine
            _com_interfaces_ = [m.IMAPISyncProgressCallback]

            def Progress(self, text, ulIndex, ulIndexMax):
                return self.record(text)

            def record(self, text):
                pass
