// Ctrl-C for the long C++ calls of the bindings: the GIL is released while the
// work runs, and the calling thread re-acquires it for an instant about every
// 0.1 s to run Python's signal handlers (emx/interrupt.hpp). An interrupt
// skips the rest of the batch and raises the interpreter's own exception
// (KeyboardInterrupt) in the caller; nothing partial comes back.
#pragma once

#include <pybind11/pybind11.h>

#include <utility>

#include "emx/interrupt.hpp"

namespace emx_py {

/// Runs f() with the GIL released and Python's signal handlers polled.
template <class F>
auto run_interruptible(F&& f) -> decltype(f()) {
  try {
    pybind11::gil_scoped_release release;
    emx::ScopedInterruptCheck guard([] {
      pybind11::gil_scoped_acquire acquire;
      return PyErr_CheckSignals() != 0;
    });
    return f();
  } catch (const emx::Interrupted&) {
    throw pybind11::error_already_set();  // the handler's exception, set by PyErr_CheckSignals
  }
}

}  // namespace emx_py
