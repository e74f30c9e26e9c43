"""Runs compiled contracts through a small CPython extension instead of libffi: one C call takes the
entry's address, a frame (given, or taken from the library's pool and put back) and Python's
arguments, runs the entry and returns the outcome tuple (status, gas left, output, refund) read
straight from the frame, about 0.8 us less per run than calling through cffi and doing the rest in
Python. Built once per (Python, frame layout and status codes, compiler) and cached next to the runtime
object; where it cannot be built (no Python headers) `runners` returns None and aot.loader calls through
libffi."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple

from aot.build import BuildError, compile_shared
from aot.toolchain import Compiler

_SOURCE = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
/* CONSTANTS */

typedef int32_t (*aot_entry)(void *, int64_t, const char *, uint64_t, const char *, uint32_t);
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

/* run_pooled(outcome_type, entry, pool, new_frame, no_host, gas, calldata, host, value, is_static): run
   on a frame taken from `pool` (a list of (frame, box, handle, address, member) tuples; new_frame() makes
   one when it is empty) with box[0] = host (None: keep no_host) during the run, then a member frame back
   to the pool (its memory buffer freed if over KEEP_MEM bytes; as aot.loader.Library.release); value is a
   non-negative int below 2^256. */
static PyObject *run_pooled(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 10 || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "run_pooled(outcome_type, entry, pool, new_frame, no_host, gas, "
                        "calldata, host, value, is_static)");
        return NULL;
    }
    PyObject *pool = args[2], *entry, *value = Py_None;
    Py_ssize_t n = PyList_GET_SIZE(pool);
    if (n) {
        entry = PyList_GET_ITEM(pool, n - 1);
        Py_INCREF(entry);
        if (PyList_SetSlice(pool, n - 1, n, NULL) < 0) { Py_DECREF(entry); return NULL; }
    } else {
        entry = PyObject_CallNoArgs(args[3]);
        if (!entry) return NULL;
    }
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5 || !PyList_Check(PyTuple_GET_ITEM(entry, 1))) {
        Py_DECREF(entry);
        PyErr_SetString(PyExc_TypeError, "pool entries are (frame, box, handle, address, member)");
        return NULL;
    }
    int truth = PyObject_IsTrue(args[8]);
    if (truth < 0) { Py_DECREF(entry); return NULL; }
    if (truth) {
        value = PyObject_CallMethod(args[8], "to_bytes", "is", 32, "little");
        if (!value) { Py_DECREF(entry); return NULL; }
    } else {
        Py_INCREF(value);
    }
    PyObject *box = PyTuple_GET_ITEM(entry, 1);
    if (args[7] != Py_None) {
        Py_INCREF(args[7]);
        PyList_SetItem(box, 0, args[7]);
    }
    PyObject *call[7] = {args[0], args[1], PyTuple_GET_ITEM(entry, 3), args[5], args[6], value, args[9]};
    PyObject *out = run(self, call, 7);
    Py_DECREF(value);
    Py_INCREF(args[4]);
    PyList_SetItem(box, 0, args[4]);
    if (PyTuple_GET_ITEM(entry, 4) == Py_True) {  /* a pool member: back into the pool */
        void *f = PyLong_AsVoidPtr(PyTuple_GET_ITEM(entry, 3));
        if (FIELD(f, uint64_t, OFF_MEM_CAP) > KEEP_MEM) {
            free(FIELD(f, void *, OFF_MEM));
            FIELD(f, void *, OFF_MEM) = NULL;
            FIELD(f, uint64_t, OFF_MEM_CAP) = 0;
        }
        if (PyList_Append(pool, entry) < 0) Py_CLEAR(out);
    }
    Py_DECREF(entry);
    return out;
}

#if PY_VERSION_HEX >= 0x030D0000
#define AS_LE_BYTES(v, out) _PyLong_AsByteArray((PyLongObject *)(v), (out), 32, 1, 0, 1)
#else
#define AS_LE_BYTES(v, out) _PyLong_AsByteArray((PyLongObject *)(v), (out), 32, 1, 0)
#endif
static PyObject *SLOAD_ATTR, *OPCODE_ATTR;

/* A host's answers are checked as aot.loader checks them where this extension is missing: a status is an int
   in [lo, INT32_MAX] (else -1), a word an int in [0, 2^256) (else -1), gas an int64. */
static int32_t status_of(PyObject *v, long lo) {
    if (!PyLong_Check(v)) return -1;
    long s = PyLong_AsLong(v);
    if (s == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return s < lo || s > INT32_MAX ? -1 : (int32_t)s;
}

static int word_of(PyObject *v, uint8_t *out) {
    if (!PyLong_Check(v)) return -1;
    if (AS_LE_BYTES(v, out) == 0) return 0;
    PyErr_Clear();
    return -1;
}

/* HOST_SLOAD: host.sload(key, gas) gives (current, original, flags) into io[0], io[1], io[2][0], or a status
   (an int above 0) that ends the frame. */
static int32_t host_sload(PyObject *host, uint8_t *io) {
    PyObject *args[3] = {host, _PyLong_FromByteArray(io, 32, 1, 0), PyLong_FromLongLong(*(int64_t *)(io + 32))};
    PyObject *r = args[1] && args[2] ? PyObject_VectorcallMethod(SLOAD_ATTR, args, 3, NULL) : NULL;
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    int32_t st = -1;
    if (r && PyTuple_CheckExact(r) && PyTuple_GET_SIZE(r) == 3) {
        int32_t flags = status_of(PyTuple_GET_ITEM(r, 2), 0);
        if (flags >= 0 && flags <= 255 && word_of(PyTuple_GET_ITEM(r, 0), io) == 0
                && word_of(PyTuple_GET_ITEM(r, 1), io + 32) == 0) {
            io[64] = (uint8_t)flags;
            st = 0;
        }
    } else if (r) {
        st = status_of(r, 1);
    }
    Py_XDECREF(r);
    return st < 0 ? STATUS_HOST_ERROR : st;
}

/* Any other request: host.opcode(frame, op, pc, gas, args) with the opcode's stack arguments as ints, deepest
   first (none for HOST_ENV | op), gives (status, gas left, pushed value or None): into f->gas and io[0]. */
static int32_t host_opcode(PyObject *host, PyObject *frame, void *f, uint32_t op, uint32_t pc) {
    uint8_t *io = (uint8_t *)f + OFF_IO;
    int n = op < 256 ? ARITY[op] : 0;
    PyObject *args[6] = {host, frame, PyLong_FromUnsignedLong(op), PyLong_FromUnsignedLong(pc),
                         PyLong_FromLongLong(FIELD(f, int64_t, OFF_GAS)), PyList_New(n)};
    int ok = args[2] && args[3] && args[4] && args[5];
    for (int k = 0; ok && k < n; k++) {
        PyObject *v = _PyLong_FromByteArray(io + 32 * (n - 1 - k), 32, 1, 0);
        if (!v) ok = 0; else PyList_SET_ITEM(args[5], k, v);
    }
    PyObject *r = ok ? PyObject_VectorcallMethod(OPCODE_ATTR, args, 6, NULL) : NULL;
    for (int k = 2; k < 6; k++) Py_XDECREF(args[k]);
    int32_t st = STATUS_HOST_ERROR;
    if (r && PyTuple_CheckExact(r) && PyTuple_GET_SIZE(r) == 3 && PyLong_Check(PyTuple_GET_ITEM(r, 1))) {
        int32_t status = status_of(PyTuple_GET_ITEM(r, 0), 0);
        long long gas = PyLong_AsLongLong(PyTuple_GET_ITEM(r, 1));
        PyObject *value = PyTuple_GET_ITEM(r, 2);
        if (PyErr_Occurred()) {
            PyErr_Clear();
        } else if (status >= 0 && (value == Py_None || word_of(value, io) == 0)) {
            FIELD(f, int64_t, OFF_GAS) = gas;
            st = status;
        }
    }
    Py_XDECREF(r);
    return st;
}

/* The frames' host function (aot_frame.host) where this extension runs them: box = the frame's handle, a
   list [host, frame cdata]; HOST_SLOAD goes to host.sload, everything else to host.opcode. Python errors end
   the frame with STATUS_HOST_ERROR (the hosts keep their own errors for the caller). */
static int32_t host_call(void *f, uint32_t op, uint32_t pc) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *box = FIELD(f, PyObject *, OFF_HANDLE);
    PyObject *host = PyList_GET_ITEM(box, 0), *frame = PyList_GET_ITEM(box, 1);
    Py_INCREF(host);
    Py_INCREF(frame);
    int32_t st = op == HOST_SLOAD ? host_sload(host, (uint8_t *)f + OFF_IO) : host_opcode(host, frame, f, op, pc);
    Py_DECREF(host);
    Py_DECREF(frame);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        st = STATUS_HOST_ERROR;
    }
    PyGILState_Release(gil);
    return st;
}

/* attach(frame_address, box): the frame calls host_call with `box` (kept alive by the caller). */
static PyObject *attach(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[1]) || PyList_GET_SIZE(args[1]) != 2) {
        PyErr_SetString(PyExc_TypeError, "attach(frame_address, [host, frame])");
        return NULL;
    }
    void *f = PyLong_AsVoidPtr(args[0]);
    if (PyErr_Occurred()) return NULL;
    FIELD(f, void *, OFF_HOST) = (void *)host_call;
    FIELD(f, void *, OFF_HANDLE) = (void *)args[1];
    Py_RETURN_NONE;
}

/* slot_changes(frame_address): the frame's slot cache as ([keys of the slots it made warm], [(key, value) of
   the slots it wrote]), ints; the caller then clears the cache (aot.loader.Library.take_slots). */
static PyObject *slot_changes(PyObject *self, PyObject *arg) {
    void *f = PyLong_AsVoidPtr(arg);
    if (PyErr_Occurred()) return NULL;
    uint64_t n = FIELD(f, uint64_t, OFF_SLOT_COUNT);
    const uint8_t *slots = FIELD(f, const uint8_t *, OFF_SLOTS);
    PyObject *warmed = PyList_New(0), *written = PyList_New(0);
    if (!warmed || !written) goto fail;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *s = slots + i * SLOT_SIZE;
        uint8_t flags = s[SLOT_FLAGS];
        if (!(flags & (SLOT_WARMED | SLOT_DIRTY))) continue;
        PyObject *key = _PyLong_FromByteArray(s, 32, 1, 0);
        if (!key) goto fail;
        int bad = (flags & SLOT_WARMED) && PyList_Append(warmed, key) < 0;
        if (!bad && (flags & SLOT_DIRTY)) {
            PyObject *pair = Py_BuildValue("(ON)", key, _PyLong_FromByteArray(s + 32, 32, 1, 0));
            bad = !pair || PyList_Append(written, pair) < 0;
            Py_XDECREF(pair);
        }
        Py_DECREF(key);
        if (bad) goto fail;
    }
    return Py_BuildValue("(NN)", warmed, written);
fail:
    Py_XDECREF(warmed);
    Py_XDECREF(written);
    return NULL;
}

/* log_records(frame_address): the frame's native LOG records (runtime.h aot_log) as [((topic, ...), data)],
   ints and bytes; the caller then drops them (aot.loader.Library.take_logs). */
static PyObject *log_records(PyObject *self, PyObject *arg) {
    void *f = PyLong_AsVoidPtr(arg);
    if (PyErr_Occurred()) return NULL;
    uint64_t n = FIELD(f, uint64_t, OFF_LOG_SIZE);
    const uint8_t *p = FIELD(f, const uint8_t *, OFF_LOGS), *end = p + n;
    PyObject *records = PyList_New(0);
    if (!records) return NULL;
    while (p < end) {
        int topics = p[0];
        uint64_t size = (uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16 | (uint64_t)p[4] << 24;
        p += 5;
        PyObject *words = PyTuple_New(topics);
        if (!words) goto fail;
        for (int k = 0; k < topics; k++, p += 32) {
            PyObject *w = _PyLong_FromByteArray(p, 32, 1, 0);
            if (!w) { Py_DECREF(words); goto fail; }
            PyTuple_SET_ITEM(words, k, w);
        }
        PyObject *record = Py_BuildValue("(Ny#)", words, (const char *)p, (Py_ssize_t)size);
        p += size;
        if (!record) goto fail;
        int bad = PyList_Append(records, record) < 0;
        Py_DECREF(record);
        if (bad) goto fail;
    }
    return records;
fail:
    Py_DECREF(records);
    return NULL;
}

static PyMethodDef methods[] = {
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL, "Run a compiled contract's entry on a frame."},
    {"run_pooled", (PyCFunction)(void (*)(void))run_pooled, METH_FASTCALL, "Run an entry on a pooled frame."},
    {"attach", (PyCFunction)(void (*)(void))attach, METH_FASTCALL, "Serve a frame's host calls from here."},
    {"slot_changes", slot_changes, METH_O, "A frame's newly warm and written storage slots."},
    {"log_records", log_records, METH_O, "A frame's native LOG records."},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "NAME", NULL, -1, methods};
PyMODINIT_FUNC PyInit_NAME(void) {
    SLOAD_ATTR = PyUnicode_InternFromString("sload");
    OPCODE_ATTR = PyUnicode_InternFromString("opcode");
    return SLOAD_ATTR && OPCODE_ATTR ? PyModule_Create(&module) : NULL;
}
"""


@cache
def _module(cc: Compiler, directory: Path, constants: tuple[tuple[str, int | bytes], ...]) -> Any | None:
    """The extension module, built into `directory` on first use; None when it cannot be built."""
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        return None
    defines = "".join(f"#define {k} {v}\n" if isinstance(v, int)
                      else f"static const uint8_t {k}[{len(v)}] = {{{', '.join(map(str, v))}}};\n"
                      for k, v in constants)
    key = hashlib.sha256("\0".join((defines + _SOURCE, sys.version, cc.version_text)).encode())
    name = f"_aot_run_{key.hexdigest()[:16]}"
    path = directory / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="invoke-", dir=directory) as tmp:
            try:
                source = _SOURCE.replace("NAME", name).replace("/* CONSTANTS */", defines)
                built = compile_shared(cc, source, Path(tmp) / path.name,
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


class Runners(NamedTuple):
    """An entry's two ways in: `run(frame_address, gas, calldata, callvalue, is_static)` on a given frame
    (callvalue: 32 little-endian bytes or None), and `pooled(gas, calldata, host, value, is_static)` on
    a frame of the library's pool (value: an int)."""

    run: Callable[..., Any]
    pooled: Callable[..., Any]


def runners(module: Any, outcome: type, entry_address: int, pool: list[Any], new_frame: Callable[[], Any],
            no_host: Any) -> Runners:
    """Runners of the entry at `entry_address` returning `outcome` tuples, through `module` (`extension`)."""
    return Runners(partial(module.run, outcome, entry_address),
                   partial(module.run_pooled, outcome, entry_address, pool, new_frame, no_host))


def extension(cc: Compiler, directory: Path, constants: dict[str, int | bytes]) -> Any | None:
    """The extension module, None where it cannot be built. `constants` are the frame's field offsets (OFF_GAS,
    OFF_MEM, OFF_MEM_CAP, OFF_OUT_OFFSET, OFF_OUT_SIZE, OFF_REFUND, OFF_HOST, OFF_HANDLE, OFF_IO, OFF_SLOTS,
    OFF_SLOT_COUNT, OFF_LOGS, OFF_LOG_SIZE), KEEP_MEM, the STATUS_RETURN / STATUS_REVERT / STATUS_HOST_ERROR
    codes, HOST_SLOAD, ARITY (each opcode's stack arguments, 256 bytes) and the slot cache's layout (SLOT_SIZE,
    SLOT_FLAGS offset, SLOT_WARMED and SLOT_DIRTY bits). Besides the entries' `runners`, it serves frames:
    - `attach(frame_address, box)`: the frame's host requests go through the extension's C function to the
      `aot.loader.Host` in box[0] (box[1]: the frame), arguments and answers converted in C: about 2 us less
      a request than a cffi callback that does that in Python;
    - `slot_changes(frame_address)`: the frame's newly warm slot keys and written (key, value) pairs, read
      from its slot cache in C;
    - `log_records(frame_address)`: the frame's native LOGs as ((topic, ...), data) pairs, read in C."""
    return _module(cc, directory, tuple(sorted(constants.items())))
