// emx._core rollout bindings (bindings/rollout.cpp): the scheduler, the worker
// protocol helpers for Python workers, and the C++ symbolic worker loop.
#pragma once

#include <pybind11/pybind11.h>

namespace emx_py {

void bind_rollout(pybind11::module_& m);

}  // namespace emx_py
