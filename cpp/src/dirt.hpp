// Which substances covering an object count as dirt, and what removes them.
// One rule for the executor's CLEAN and the oracle that plans it (internal).
#pragma once

#include <cstdint>

#include "emx/task.hpp"

namespace emx {

/// Defined in executor.cpp next to CLEAN; the oracle plans with the
/// executor's own rule for substances covering an object. is_dirt: CLEAN
/// removes it at all (dust, stains, mud ...; not wrinkles). is_stubborn_dirt:
/// a soaked cleaning tool, soap or a running sink removes it, a dry tool does
/// not (stains, oil, mud, rust ...). is_sandable_dirt: an abrasive removes it
/// (stains, paint, rust, incisions); sandable and not stubborn: only an
/// abrasive does (incisions). is_abrasive: emery paper, steel wool, sandpaper.
bool is_dirt(const Task& task, int32_t s);
bool is_stubborn_dirt(const Task& task, int32_t s);
bool is_sandable_dirt(const Task& task, int32_t s);
bool is_abrasive(const Task& task, int32_t tool);

}  // namespace emx
