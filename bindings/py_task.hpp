// Declarations shared by the binding sources of emx._core (bindings/*.cpp).
// pybind11 matches classes by C++ type, so every file that takes or returns a
// Task must see this one definition.
#pragma once

#include <pybind11/pybind11.h>

#include "emx/task.hpp"

namespace emx_py {

/// Python-side handle on an immutable task (emx._core.Task).
struct PyTask {
  emx::TaskPtr task;
};

/// emx._core.Geometry, relations_from_geometry, box_* predicates and the
/// threshold constants (bindings/geometry.cpp).
void bind_geometry(pybind11::module_& m);

/// emx._core.StateCheck, DeviceArray and the CUDA helpers (bindings/state_check.cpp).
void bind_state_check(pybind11::module_& m);

}  // namespace emx_py
