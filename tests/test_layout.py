"""include/mapisync.h against the Python declarations, and the header's own hygiene."""

import ctypes
import os
import shutil
import subprocess
import sys

import pytest

import mapisync_ctypes as m
from mapisync_ctypes.interfaces import INTERFACES

import native_build


def c_layout(native):
    """{(kind, name): value} from the C compiler's view of include/mapisync.h."""
    table = {}
    for line in native.host.host_layout().decode().splitlines():
        kind, name, value = line.split(" ", 2)
        table[(kind, name)] = value
    return table


def python_layout():
    """The same table, from the ctypes declarations."""
    table = {}

    def struct(name, ctype):
        table[("sizeof", name)] = str(ctypes.sizeof(ctype))
        for field in ctype._fields_:
            table[("offsetof", f"{name}.{field[0]}")] = str(getattr(ctype, field[0]).offset)

    for name, ctype in (("ULONG", m.ULONG), ("HRESULT", m.HRESULT), ("WCHAR", m.WCHAR),
                        ("HANDLE", m.HANDLE), ("pointer", ctypes.c_void_p)):
        table[("sizeof", name)] = str(ctypes.sizeof(ctype))
    struct("GUID", m.GUID)
    struct("MAPISIB", m.MAPISIB)
    for interface in INTERFACES:  # every vtable comes from its one declaration
        struct(interface.vtable_type.__name__, interface.vtable_type)
        table[("guid", f"IID_{interface.name}")] = str(interface.iid)
    for name in m.hresult.__all__:
        value = getattr(m.hresult, name)
        if isinstance(value, int):
            table[("value", name)] = str(value)
    for name in m.flags.__all__:
        value = getattr(m.flags, name)
        if isinstance(value, int):
            table[("value", name)] = str(int(value))
    return table


def test_ctypes_layout_equals_the_c_compiler(native):
    c, py = c_layout(native), python_layout()
    assert set(py) == set(c), f"only in Python: {set(py) - set(c)}; only in C: {set(c) - set(py)}"
    mismatches = {key: (py[key], c[key]) for key in py if py[key] != c[key]}
    assert not mismatches, f"(Python, C) differ: {mismatches}"


def test_layout_covers_every_slot_of_every_interface(native):
    c = c_layout(native)
    for interface in INTERFACES:
        for method in interface.methods:
            key = ("offsetof", f"{interface.name}Vtbl.{method.name}")
            assert int(c[key]) == method.index * ctypes.sizeof(ctypes.c_void_p), key


def test_get_include_finds_the_header():
    folder = m.get_include()
    assert os.path.isfile(os.path.join(folder, "mapisync.h"))


HEADER_USER_C = r"""
#include "mapisync.h"
static HRESULT STDMETHODCALLTYPE progress(IMAPISyncProgressCallback *This, const WCHAR *t, ULONG i, ULONG n)
{ (void)This; (void)t; return i <= n ? S_OK : E_INVALIDARG; }
int main(void)
{
    MAPISIB sib = {0};
    IMAPISyncProgressCallbackVtbl vtbl = {0};
    vtbl.Progress = progress;
    sib.ulSize = sizeof sib;
    sib.ulFlags = SYNC_UPLOAD_CONTENTS | SYNC_ON_DEMAND;
    return (IsEqualIID(&IID_IMAPISync, &IID_IMAPISync) && vtbl.Progress(NULL, NULL, 1, 2) == S_OK
            && FAILED(MAPI_E_USER_CANCEL)) ? 0 : 1;
}
"""

HEADER_USER_CXX = r"""
#include "mapisync.h"
struct Cb : IMAPISyncProgressCallback {
    HRESULT STDMETHODCALLTYPE QueryInterface(REFIID, void **ppv) override { *ppv = nullptr; return E_NOINTERFACE; }
    ULONG STDMETHODCALLTYPE AddRef() override { return 2; }
    ULONG STDMETHODCALLTYPE Release() override { return 1; }
    HRESULT STDMETHODCALLTYPE Progress(const WCHAR *, ULONG, ULONG) override { return S_OK; }
    HRESULT STDMETHODCALLTYPE Error(HRESULT hr, const WCHAR *) override { return hr; }
    HRESULT STDMETHODCALLTYPE Done(HANDLE, HRESULT) override { return S_OK; }
};
int main()
{
    Cb cb;
    IUnknown *unk = &cb;
    MAPISIB sib = {};
    sib.punkCallBack = unk;
    return (IsEqualIID(IID_IMAPISyncProgressCallback, IID_IMAPISyncProgressCallback)
            && cb.Error(E_FAIL, nullptr) == E_FAIL && sib.punkCallBack->AddRef() == 2) ? 0 : 1;
}
"""


def _compilers():
    found = []
    for language, names in (("c", ["gcc", "clang"]), ("c++", ["g++", "clang++"])):
        for name in names:
            if shutil.which(name):
                found.append(pytest.param(language, name, id=name))
    return found or [pytest.param("c", "none", marks=pytest.mark.skip("no compiler"))]


@pytest.mark.skipif(sys.platform == "win32", reason="compilers run outside the Windows interpreter")
@pytest.mark.parametrize("language, compiler", _compilers())
def test_header_compiles_warning_free(tmp_path, language, compiler):
    source = tmp_path / ("user.c" if language == "c" else "user.cpp")
    source.write_text(HEADER_USER_C if language == "c" else HEADER_USER_CXX)
    std = "-std=c99" if language == "c" else "-std=c++11"
    exe = tmp_path / "user"
    cmd = [compiler, std, "-Wall", "-Wextra", "-pedantic", "-Werror", f"-I{m.get_include()}",
           str(source), "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert subprocess.run([str(exe)]).returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="compilers run outside the Windows interpreter")
def test_header_static_asserts_fire_on_a_wrong_layout(tmp_path):
    """The asserts are real: a 64-bit ULONG moves MAPISIB's fields, and the build must fail."""
    source = tmp_path / "bad.c"
    source.write_text("#include <stdint.h>\n#define uint32_t uint64_t\n"
                      '#include "mapisync.h"\nint main(void) { return 0; }\n')
    tool = native_build.compiler("c")
    result = subprocess.run([tool, "-std=c99", f"-I{m.get_include()}", "-c", str(source), "-o",
                             str(tmp_path / "bad.o")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "mapisync_assert_ULONG_is_32_bit" in result.stderr
    assert "mapisync_assert_MAPISIB_ulFlags" in result.stderr
