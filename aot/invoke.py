"""Runs compiled contracts through a small CPython extension instead of libffi: one C call takes the
entry's address, the frame's address and Python's arguments, runs the entry and returns the outcome
tuple (status, gas left, output, refund) read straight from the frame, about 0.6 us less per run
than calling through cffi and reading the frame's fields from Python. Built once per (Python,
frame layout, compiler) and cached next to the runtime object; where it cannot be built (no Python
headers) `runner` returns None and aot.loader calls through libffi."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

from aot.build import BuildError, compile_shared
from aot.toolchain import Compiler

_SOURCE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int32_t (*aot_entry)(void *, int64_t, const char *, uint64_t, const char *, uint32_t);
enum { STATUS_RETURN = 1, STATUS_REVERT = 2 };
#define FIELD(f, type, off) (*(type *)((char *)(f) + (off)))
static const char ZERO_WORD[32];

/* run(outcome_type, entry, frame, gas, calldata, callvalue, is_static): callvalue is 32 little-endian
   bytes or None (zero); the result is an instance of outcome_type (a tuple subclass of 4 fields). */
static PyObject *run(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyType_Check(args[0]) || !PyBytes_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "run(outcome_type, entry, frame, gas, calldata, callvalue, is_static)");
        return NULL;
    }
    void *fn = PyLong_AsVoidPtr(args[1]);
    void *f = PyLong_AsVoidPtr(args[2]);
    long long gas = PyLong_AsLongLong(args[3]);
    int is_static = PyObject_IsTrue(args[6]);
    if (PyErr_Occurred() || is_static < 0) return NULL;
    const char *value = ZERO_WORD;
    if (args[5] != Py_None) {
        if (!PyBytes_Check(args[5]) || PyBytes_GET_SIZE(args[5]) != 32) {
            PyErr_SetString(PyExc_TypeError, "callvalue: 32 bytes or None");
            return NULL;
        }
        value = PyBytes_AS_STRING(args[5]);
    }
    int32_t st = ((aot_entry)fn)(f, gas, PyBytes_AS_STRING(args[4]), (uint64_t)PyBytes_GET_SIZE(args[4]),
                                 value, (uint32_t)is_static);
    uint64_t size = FIELD(f, uint64_t, OFF_OUT_SIZE);
    PyObject *out;
    if ((st == STATUS_RETURN || st == STATUS_REVERT) && size) {
        const char *mem = FIELD(f, const char *, OFF_MEM);
        out = PyBytes_FromStringAndSize(mem + FIELD(f, uint64_t, OFF_OUT_OFFSET), (Py_ssize_t)size);
    } else {
        out = PyBytes_FromStringAndSize(NULL, 0);
    }
    PyObject *s = PyLong_FromLong(st);
    PyObject *g = PyLong_FromLongLong(FIELD(f, int64_t, OFF_GAS));
    PyObject *r = PyLong_FromLongLong(FIELD(f, int64_t, OFF_REFUND));
    PyTypeObject *type = (PyTypeObject *)args[0];
    PyObject *t = (s && g && r && out) ? type->tp_alloc(type, 4) : NULL;
    if (!t) {
        Py_XDECREF(s); Py_XDECREF(g); Py_XDECREF(r); Py_XDECREF(out);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, s);
    PyTuple_SET_ITEM(t, 1, g);
    PyTuple_SET_ITEM(t, 2, out);
    PyTuple_SET_ITEM(t, 3, r);
    return t;
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL, "Run a compiled contract's entry on a frame."},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "NAME", NULL, -1, methods};
PyMODINIT_FUNC PyInit_NAME(void) { return PyModule_Create(&module); }
"""


@cache
def _module(cc: Compiler, directory: Path, offsets: tuple[tuple[str, int], ...]) -> Any | None:
    """The extension module, built into `directory` on first use; None when it cannot be built."""
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        return None
    defines = "".join(f"#define OFF_{k} {v}\n" for k, v in offsets)
    key = hashlib.sha256("\0".join((defines + _SOURCE, sys.version, cc.version_text)).encode())
    name = f"_aot_run_{key.hexdigest()[:16]}"
    path = directory / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="invoke-", dir=directory) as tmp:
            try:
                built = compile_shared(cc, defines + _SOURCE.replace("NAME", name), Path(tmp) / path.name,
                                       ("-O2", "-fPIC", "-shared", "-w", "-I", include))
            except BuildError:
                return None
            built.replace(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runner(cc: Compiler, directory: Path, offsets: dict[str, int], outcome: type,
           entry_address: int) -> Callable[..., Any] | None:
    """`(frame_address, gas, calldata, callvalue, is_static) -> outcome` running the entry at
    `entry_address` (frame fields at `offsets`: GAS, MEM, OUT_OFFSET, OUT_SIZE, REFUND); None when
    the extension cannot be built."""
    module = _module(cc, directory, tuple(sorted(offsets.items())))
    return None if module is None else partial(module.run, outcome, entry_address)
