// emx._core geometry bindings: relations from object boxes (physics mode).
// Binding code only; the definitions live in cpp/include/emx/geometry.hpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "emx/geometry.hpp"
#include "py_task.hpp"

namespace py = pybind11;

namespace emx_py {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using BoolArray = py::array_t<bool, py::array::c_style | py::array::forcecast>;

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Raises ValueError naming the argument unless `a` has exactly `shape`.
void need_shape(const py::array& a, const char* name, std::initializer_list<py::ssize_t> shape, const std::string& expected) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t k = 0;
  for (py::ssize_t d : shape) ok = ok && a.shape(k++) == d;
  if (!ok) throw py::value_error(std::string(name) + " must have shape " + expected + ", got " + shape_text(a));
}

emx::Box box_at(const float* p) {
  emx::Box b;
  for (int k = 0; k < 3; ++k) {
    b.min[k] = p[k];
    b.max[k] = p[3 + k];
  }
  return b;
}

// One (2, 3) array [[min x, y, z], [max x, y, z]], finite (the single-pair
// predicates are not defined for NaN or inf).
emx::Box one_box(const FloatArray& a, const char* name) {
  need_shape(a, name, {2, 3}, "(2, 3): [[min x, y, z], [max x, y, z]]");
  for (int k = 0; k < 6; ++k)
    if (!std::isfinite(a.data()[k])) throw py::value_error(std::string(name) + " must be finite");
  return box_at(a.data());
}

// n < 0: the number of objects is boxes' first dimension.
emx::Geometry make_geometry(const FloatArray& boxes, const FloatArray& interiors, const BoolArray& has_interior,
                            const FloatArray& joint_fraction, const BoolArray& present, py::ssize_t n) {
  if (n < 0) n = boxes.ndim() == 3 ? boxes.shape(0) : -1;
  const std::string N = n >= 0 ? std::to_string(n) : std::string("N");
  const std::string per_object = n >= 0 ? " (one row per task object)" : "";
  need_shape(boxes, "boxes", {n, 2, 3}, "(" + N + ", 2, 3)" + per_object);
  need_shape(interiors, "interiors", {n, 2, 3}, "(" + N + ", 2, 3)" + per_object);
  need_shape(has_interior, "has_interior", {n}, "(" + N + ",)" + per_object);
  need_shape(joint_fraction, "joint_fraction", {n}, "(" + N + ",)" + per_object);
  need_shape(present, "present", {n}, "(" + N + ",)" + per_object);
  emx::Geometry g;
  g.box.resize(n);
  g.interior.resize(n);
  g.has_interior.resize(n);
  g.joint_fraction.resize(n);
  g.present.resize(n);
  const float* b = boxes.data();
  const float* in = interiors.data();
  for (py::ssize_t i = 0; i < n; ++i) {
    g.box[i] = box_at(b + 6 * i);
    g.interior[i] = box_at(in + 6 * i);
    g.has_interior[i] = has_interior.data()[i];
    g.joint_fraction[i] = joint_fraction.data()[i];
    g.present[i] = present.data()[i];
  }
  return g;
}

emx::WorldState derive(const PyTask& t, const emx::WorldState& state, const emx::Geometry& geo) {
  const emx::Task& task = *t.task;
  if (geo.box.size() != static_cast<size_t>(task.num_objects()))
    throw py::value_error("the geometry has " + std::to_string(geo.box.size()) + " objects, the task has " +
                          std::to_string(task.num_objects()));
  if (state.parent.size() != static_cast<size_t>(task.num_objects()))
    throw py::value_error("state does not belong to this task");
  emx::WorldState out = state;
  {
    py::gil_scoped_release release;
    emx::relations_from_geometry(task, geo, out);
  }
  return out;
}

}  // namespace

void bind_geometry(py::module_& m) {
  m.attr("CONTACT_GAP") = emx::kContactGap;
  m.attr("SUPPORT_OVERLAP") = emx::kSupportOverlap;
  m.attr("INSIDE_TOLERANCE") = emx::kInsideTolerance;
  m.attr("NEXTTO_GAP") = emx::kNextToGap;
  m.attr("OPEN_FRACTION") = emx::kOpenFraction;

  py::class_<emx::Geometry>(m, "Geometry",
                            "Geometry of every object of a task at one instant (row i = task object i).\n"
                            "boxes, interiors: (N, 2, 3) float32 world AABBs [[min xyz], [max xyz]];\n"
                            "has_interior, present: (N,) bool; joint_fraction: (N,) float32, < 0 for no joint.\n"
                            "An object whose box is not finite is left out, as if not present.")
      .def(py::init([](const FloatArray& boxes, const FloatArray& interiors, const BoolArray& has_interior,
                       const FloatArray& joint_fraction, const BoolArray& present) {
             return make_geometry(boxes, interiors, has_interior, joint_fraction, present, -1);
           }),
           py::arg("boxes"), py::arg("interiors"), py::arg("has_interior"), py::arg("joint_fraction"), py::arg("present"))
      .def_property_readonly("num_objects", [](const emx::Geometry& g) { return g.box.size(); })
      .def("__repr__", [](const emx::Geometry& g) { return "Geometry(num_objects=" + std::to_string(g.box.size()) + ")"; });

  const char* doc =
      "A copy of `state` whose ontop/inside/nextto/under/onfloor relations, open states and support tree\n"
      "are derived from the geometry (emx/geometry.hpp has the definitions).";
  m.def("relations_from_geometry",
        [](const PyTask& t, const emx::WorldState& state, const FloatArray& boxes, const FloatArray& interiors,
           const BoolArray& has_interior, const FloatArray& joint_fraction, const BoolArray& present) {
          emx::Geometry g = make_geometry(boxes, interiors, has_interior, joint_fraction, present, t.task->num_objects());
          return derive(t, state, g);
        },
        doc, py::arg("task"), py::arg("state"), py::arg("boxes"), py::arg("interiors"), py::arg("has_interior"),
        py::arg("joint_fraction"), py::arg("present"));
  m.def("relations_from_geometry", &derive, doc, py::arg("task"), py::arg("state"), py::arg("geometry"));

  m.def("box_ontop", [](const FloatArray& a, const FloatArray& b) { return emx::ontop(one_box(a, "a"), one_box(b, "b")); },
        "a rests on b's top", py::arg("a"), py::arg("b"));
  m.def("box_inside", [](const FloatArray& a, const FloatArray& interior) {
          return emx::inside(one_box(a, "a"), one_box(interior, "interior"));
        }, "a lies within the interior box", py::arg("a"), py::arg("interior"));
  m.def("box_nextto", [](const FloatArray& a, const FloatArray& b) { return emx::nextto(one_box(a, "a"), one_box(b, "b")); },
        "a and b stand side by side (symmetric)", py::arg("a"), py::arg("b"));
  m.def("box_under", [](const FloatArray& a, const FloatArray& b) { return emx::under(one_box(a, "a"), one_box(b, "b")); },
        "a is in the space below b", py::arg("a"), py::arg("b"));
  m.def("box_onfloor", [](const FloatArray& a, const FloatArray& floor) {
          return emx::onfloor(one_box(a, "a"), one_box(floor, "floor"));
        }, "a stands on the floor box", py::arg("a"), py::arg("floor"));
}

}  // namespace emx_py
