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
    exe = native_build.compile_header_user(language, tmp_path, compiler)
    assert subprocess.run([str(exe)]).returncode == 0


@pytest.mark.skipif(sys.platform != "win32", reason="the Windows lane prebuilds these with mingw")
@pytest.mark.parametrize("language", ["c", "c++"])
def test_header_compiled_by_mingw_runs(language):
    """The lane compiled header_user.c/.cpp with mingw -Werror; here they run on this ABI."""
    exe = native_build.prebuilt_header_user(language)
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
