// emx._core state-check bindings: StateCheck (batched goal checks and rewards
// from geometry, emx/state_check.hpp), DeviceArray and the CUDA helpers.
// Binding code only.
//
// Arrays come in as numpy arrays (host), objects with __cuda_array_interface__
// (device: torch CUDA tensors, CuPy, SAPIEN's PhysxGpuSystem buffers) or with
// __dlpack__ (host or device by their __dlpack_device__), read where they are
// with no copy when dtype and layout fit. Device inputs run the CUDA kernels
// and give DeviceArray outputs (with __cuda_array_interface__: torch.as_tensor
// and cupy.asarray wrap them without a copy); host inputs run the threaded CPU
// path and give numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "interrupt.hpp"
#include "emx/backend.hpp"
#include "emx/state_check.hpp"
#include "py_task.hpp"

namespace py = pybind11;

namespace emx_py {
namespace {

// ---- DLPack (the stable ABI of dlpack.h v0.x, what __dlpack__() returns unversioned)

struct DLDevice {
  int32_t device_type;  // 1 CPU, 2 CUDA, 3 CUDA host (pinned), 13 CUDA managed
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;  // 0 int, 1 uint, 2 float, 6 bool
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null: C-contiguous
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};

enum class Dtype { kF32, kU8, kI32, kF64 };

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::kF32: return "float32";
    case Dtype::kU8: return "uint8 or bool";
    case Dtype::kI32: return "int32";
    case Dtype::kF64: return "float64";
  }
  return "?";
}
size_t itemsize(Dtype d) { return d == Dtype::kF32 || d == Dtype::kI32 ? 4 : d == Dtype::kU8 ? 1 : 8; }

bool typestr_fits(const std::string& t, Dtype d) {
  if (t.size() < 3) return false;
  const char order = t[0], kind = t[1];
  const std::string size = t.substr(2);
  if (order == '>') return size == "1" && (kind == 'u' || kind == 'b') && d == Dtype::kU8;
  switch (d) {
    case Dtype::kF32: return kind == 'f' && size == "4";
    case Dtype::kF64: return kind == 'f' && size == "8";
    case Dtype::kI32: return kind == 'i' && size == "4";
    case Dtype::kU8: return (kind == 'u' || kind == 'b') && size == "1";
  }
  return false;
}

// A numpy dtype that can be read in place as `d` (native byte order).
bool dtype_fits(const py::dtype& dt, Dtype d) {
  if (dt.byteorder() == '>') return false;
  const char kind = dt.kind();
  const py::ssize_t size = dt.itemsize();
  switch (d) {
    case Dtype::kF32: return kind == 'f' && size == 4;
    case Dtype::kF64: return kind == 'f' && size == 8;
    case Dtype::kI32: return kind == 'i' && size == 4;
    case Dtype::kU8: return (kind == 'u' || kind == 'b') && size == 1;
  }
  return false;
}

bool dl_fits(const DLDataType& t, Dtype d) {
  if (t.lanes != 1) return false;
  switch (d) {
    case Dtype::kF32: return t.code == 2 && t.bits == 32;
    case Dtype::kF64: return t.code == 2 && t.bits == 64;
    case Dtype::kI32: return t.code == 0 && t.bits == 32;
    case Dtype::kU8: return (t.code == 1 || t.code == 6) && t.bits == 8;
  }
  return false;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
  return out + (s.size() == 1 ? ",)" : ")");
}

// One array argument, read where it is.
struct Arg {
  std::string name;
  const void* ptr = nullptr;
  bool given = false;
  bool device = false;
  int device_id = -1;
  std::vector<int64_t> shape;
  py::object keep;         // keeps the memory alive (the array, or the DLPack capsule owner)
  intptr_t stream = 0;     // __cuda_array_interface__ "stream" (0: none given)
  bool writable = true;
  Dtype dtype = Dtype::kF32;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t bytes() const { return static_cast<size_t>(size()) * itemsize(dtype); }
};

std::vector<int64_t> to_shape(const py::handle& seq) {
  std::vector<int64_t> s;
  for (auto v : seq) s.push_back(v.cast<int64_t>());
  return s;
}

bool c_contiguous(const std::vector<int64_t>& shape, const int64_t* strides_elems) {
  if (!strides_elems) return true;
  int64_t expect = 1;
  for (int k = static_cast<int>(shape.size()) - 1; k >= 0; --k) {
    if (shape[k] != 1 && strides_elems[k] != expect) return false;
    expect *= shape[k];
  }
  return true;
}

// Host arrays: numpy (or anything numpy converts), cast and made contiguous
// when they are not already float32 / uint8 / int32 C-contiguous.
Arg host_arg(const std::string& name, py::handle obj, Dtype d) {
  Arg a;
  a.name = name;
  a.given = true;
  a.dtype = d;
  // (A default-constructed py::array is an empty array, not null: hold an object.)
  py::object held;
  if (py::isinstance<py::array>(obj)) {
    py::array in = py::reinterpret_borrow<py::array>(obj);
    if ((in.flags() & py::array::c_style) && dtype_fits(in.dtype(), d)) held = in;
  }
  if (!held) {
    switch (d) {
      case Dtype::kF32: held = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(obj); break;
      case Dtype::kF64: held = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj); break;
      case Dtype::kI32: held = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(obj); break;
      case Dtype::kU8: held = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(obj); break;
    }
    if (!held) {
      PyErr_Clear();
      throw py::type_error(name + ": cannot be read as a " + dtype_name(d) + " array");
    }
  }
  py::array arr = py::reinterpret_borrow<py::array>(held);
  a.ptr = arr.data();
  a.writable = arr.writeable();
  for (py::ssize_t k = 0; k < arr.ndim(); ++k) a.shape.push_back(arr.shape(k));
  a.keep = arr;
  return a;
}

intptr_t stream_handle(py::handle s) {
  if (s.is_none()) return 0;
  if (py::hasattr(s, "cuda_stream")) return s.attr("cuda_stream").cast<intptr_t>();  // torch.cuda.Stream
  if (py::hasattr(s, "ptr")) return s.attr("ptr").cast<intptr_t>();                  // cupy Stream
  return s.cast<intptr_t>();
}

// __dlpack__ consumer. Device arrays must already be `d` and C-contiguous;
// host arrays that are not fall back to numpy (a converting copy).
Arg dlpack_arg(const std::string& name, py::handle obj, Dtype d, intptr_t launch_stream) {
  py::tuple dev = obj.attr("__dlpack_device__")();
  const int type = dev[0].cast<int>();
  const bool device = type == 2 || type == 13;
  if (!device && type != 1 && type != 3)
    throw py::value_error(name + ": DLPack device type " + std::to_string(type) + " is neither CPU nor CUDA");
  // The consumer's stream for CUDA producers: 1 is the legacy default stream.
  py::object cap = device ? obj.attr("__dlpack__")(py::arg("stream") = launch_stream ? launch_stream : 1)
                          : obj.attr("__dlpack__")();
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  if (!m) throw py::error_already_set();
  PyCapsule_SetName(cap.ptr(), "used_dltensor");  // we own it now: the deleter is ours to call
  py::capsule owner(m, [](void* p) {
    auto* t = static_cast<DLManagedTensor*>(p);
    if (t->deleter) t->deleter(t);
  });
  const DLTensor& t = m->dl_tensor;
  std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
  const bool fits = dl_fits(t.dtype, d) && c_contiguous(shape, t.strides);
  if (!fits) {
    if (device)
      throw py::type_error(name + ": a CUDA array must be C-contiguous " + dtype_name(d) +
                           " (convert it on the device first)");
    py::object np_array = py::module_::import("numpy").attr("from_dlpack")(obj);
    return host_arg(name, np_array, d);
  }
  Arg a;
  a.name = name;
  a.given = true;
  a.dtype = d;
  a.device = device;
  a.device_id = device ? t.device.device_id : -1;
  a.ptr = static_cast<const char*>(t.data) + t.byte_offset;
  a.shape = shape;
  a.keep = owner;
  return a;
}

Arg cai_arg(const std::string& name, py::handle obj, Dtype d) {
  py::dict cai = obj.attr("__cuda_array_interface__");
  const std::string typestr = cai["typestr"].cast<std::string>();
  if (!typestr_fits(typestr, d))
    throw py::type_error(name + ": a CUDA array of " + dtype_name(d) + " is needed, got typestr '" + typestr +
                         "' (convert it on the device first)");
  if (cai.contains("mask") && !cai["mask"].is_none()) throw py::value_error(name + ": masked arrays are not supported");
  Arg a;
  a.name = name;
  a.given = true;
  a.dtype = d;
  a.device = true;
  a.shape = to_shape(cai["shape"]);
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    std::vector<int64_t> strides = to_shape(cai["strides"]);
    for (auto& s : strides) s /= static_cast<int64_t>(itemsize(d));
    if (!c_contiguous(a.shape, strides.data())) throw py::value_error(name + ": a CUDA array must be C-contiguous");
  }
  py::tuple data = cai["data"];
  a.ptr = reinterpret_cast<const void*>(data[0].cast<uintptr_t>());
  a.writable = !data[1].cast<bool>();
  if (cai.contains("stream") && !cai["stream"].is_none()) a.stream = cai["stream"].cast<intptr_t>();
  a.keep = py::reinterpret_borrow<py::object>(obj);
  return a;
}

Arg parse(const std::string& name, py::handle obj, Dtype d, intptr_t launch_stream) {
  if (obj.is_none()) {
    Arg a;
    a.name = name;
    a.dtype = d;
    return a;
  }
  if (py::isinstance<py::array>(obj)) return host_arg(name, obj, d);  // the common case first
  if (py::hasattr(obj, "__cuda_array_interface__")) return cai_arg(name, obj, d);
  if (py::hasattr(obj, "__dlpack__") && py::hasattr(obj, "__dlpack_device__"))
    return dlpack_arg(name, obj, d, launch_stream);
  return host_arg(name, obj, d);
}

void need_shape(const Arg& a, std::initializer_list<int64_t> shape, const std::string& expected) {
  if (!a.given) return;
  bool ok = a.shape.size() == shape.size();
  size_t k = 0;
  for (int64_t d : shape) ok = ok && a.shape[k++] == d;
  if (!ok) throw py::value_error(a.name + " must have shape " + expected + ", got " + shape_text(a.shape));
}

// ---- DeviceArray ------------------------------------------------------------------

struct DeviceArray {
  std::shared_ptr<void> memory;
  std::vector<int64_t> shape;
  std::string typestr;  // numpy typestr: '<f8', '|u1', '|b1', ...
  size_t item = 1;
  intptr_t stream = 0;  // work on it may still be queued on this stream (0: none)

  size_t nbytes() const {
    size_t n = item;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
  py::dict interface() const {
    py::dict d;
    py::tuple shp(shape.size());
    for (size_t k = 0; k < shape.size(); ++k) shp[k] = shape[k];
    d["shape"] = shp;
    d["typestr"] = typestr;
    d["data"] = py::make_tuple(reinterpret_cast<uintptr_t>(memory.get()), false);
    d["version"] = 3;
    d["strides"] = py::none();
    d["stream"] = stream ? py::object(py::int_(stream)) : py::object(py::none());
    return d;
  }
  py::array numpy() const {
    py::array out(py::dtype(typestr), std::vector<py::ssize_t>(shape.begin(), shape.end()));
    const size_t n = nbytes();
    void* dst = out.mutable_data();
    const void* src = memory.get();
    py::gil_scoped_release release;
    emx::cuda_synchronize();
    emx::cuda_copy_to_host(dst, src, n);
    return out;
  }
};

DeviceArray device_empty(std::vector<int64_t> shape, const std::string& typestr, size_t item) {
  DeviceArray a;
  a.shape = std::move(shape);
  a.typestr = typestr;
  a.item = item;
  a.memory = emx::cuda_allocate(a.nbytes());
  return a;
}

DeviceArray to_device(py::handle obj) {
  py::array arr = py::array::ensure(obj, py::array::c_style);
  if (!arr) {
    PyErr_Clear();
    throw py::type_error("cuda_array: cannot read the argument as an array");
  }
  DeviceArray a;
  for (py::ssize_t k = 0; k < arr.ndim(); ++k) a.shape.push_back(arr.shape(k));
  a.typestr = py::str(arr.dtype().attr("str")).cast<std::string>();
  a.item = static_cast<size_t>(arr.itemsize());
  a.memory = emx::cuda_allocate(a.nbytes());
  const void* src = arr.data();
  void* dst = a.memory.get();
  const size_t n = a.nbytes();
  py::gil_scoped_release release;
  emx::cuda_copy_to_device(dst, src, n);
  return a;
}

// ---- StateCheck ---------------------------------------------------------------------

struct PyStateCheck {
  std::shared_ptr<emx::StateCheck> check;
};

emx::RewardConfig reward_of(py::handle reward) {
  if (py::isinstance<py::str>(reward)) {
    try {
      return emx::reward_preset(reward.cast<std::string>());
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
  }
  return reward.cast<emx::RewardConfig>();
}

std::string atom_text(const emx::Task& t, const emx::GroundAtom& a) {
  std::string s = "(" + std::string(emx::predicate_name(a.pred)) + " " + t.objects[a.a].name;
  if (a.b >= 0) s += " " + (a.pred == emx::Predicate::kInRoom ? t.rooms[a.b] : t.objects[a.b].name);
  return s + ")";
}

const char* source_name(emx::StateCheckProgram::Source s) {
  switch (s) {
    case emx::StateCheckProgram::Source::kFalse: return "false";
    case emx::StateCheckProgram::Source::kGeometry: return "geometry";
    case emx::StateCheckProgram::Source::kJoint: return "joint";
    case emx::StateCheckProgram::Source::kSymbolic: return "symbolic";
  }
  return "?";
}

const emx::WorldState& state_of(const emx::Task& t, py::handle s, size_t w) {
  const emx::WorldState& st = s.cast<const emx::WorldState&>();
  if (st.parent.size() != static_cast<size_t>(t.num_objects()))
    throw py::value_error("state " + std::to_string(w) + " does not belong to this task");
  return st;
}

// The rows the caller fills from symbolic states, for a list of WorldStates.
py::array_t<uint8_t> symbolic_rows(const PyStateCheck& self, const py::sequence& states) {
  const emx::Task& t = self.check->task();
  const auto& prog = self.check->program();
  const size_t S = prog.symbolic.size();
  py::array_t<uint8_t> out({static_cast<py::ssize_t>(states.size()), static_cast<py::ssize_t>(S)});
  uint8_t* p = out.mutable_data();
  for (size_t w = 0; w < states.size(); ++w) prog.symbolic_row(t, state_of(t, states[w], w), p + w * S);
  return out;
}

py::array_t<uint8_t> exists_rows(const PyStateCheck& self, const py::sequence& states) {
  const emx::Task& t = self.check->task();
  const int32_t N = t.num_objects();
  py::array_t<uint8_t> out({static_cast<py::ssize_t>(states.size()), static_cast<py::ssize_t>(N)});
  uint8_t* p = out.mutable_data();
  for (size_t w = 0; w < states.size(); ++w) {
    const emx::WorldState& s = state_of(t, states[w], w);
    for (int32_t i = 0; i < N; ++i) p[w * N + i] = s.is_present(i);
  }
  return out;
}

// Output slot: caller-provided (out=) or fresh, host or device.
struct OutSlot {
  void* ptr = nullptr;
  py::object object;
};

OutSlot out_slot(const py::dict& out, const char* key, bool device, const std::vector<int64_t>& shape, Dtype d,
                 const std::string& typestr, intptr_t stream) {
  OutSlot slot;
  const std::string name = std::string("out['") + key + "']";
  if (out.contains(key) && !out[key].is_none()) {
    py::handle given = out[key];
    Arg a;
    if (device) {
      if (!py::hasattr(given, "__cuda_array_interface__")) throw py::type_error(name + " must be a CUDA array");
      a = cai_arg(name, given, d);
      if (py::isinstance<DeviceArray>(given)) given.cast<DeviceArray&>().stream = stream;
    } else {
      if (!py::isinstance<py::array>(given)) throw py::type_error(name + " must be a numpy array");
      py::array arr = py::reinterpret_borrow<py::array>(given);
      if (!(arr.flags() & py::array::c_style) || !dtype_fits(arr.dtype(), d))
        throw py::type_error(name + " must be a C-contiguous " + dtype_name(d) + " array");
      a.writable = arr.writeable();
      for (py::ssize_t k = 0; k < arr.ndim(); ++k) a.shape.push_back(arr.shape(k));
      a.ptr = arr.data();
    }
    if (a.shape != shape) throw py::value_error(name + " must have shape " + shape_text(shape) + ", got " + shape_text(a.shape));
    if (!a.writable) throw py::value_error(name + " is read-only");
    slot.ptr = const_cast<void*>(a.ptr);
    slot.object = py::reinterpret_borrow<py::object>(given);
    return slot;
  }
  if (device) {
    DeviceArray arr = device_empty(shape, typestr, itemsize(d));
    arr.stream = stream;
    slot.ptr = arr.memory.get();
    slot.object = py::cast(std::move(arr));
  } else {
    py::array arr(py::dtype(typestr), std::vector<py::ssize_t>(shape.begin(), shape.end()));
    slot.ptr = arr.mutable_data();
    slot.object = arr;
  }
  return slot;
}

py::dict call(const PyStateCheck& self, py::handle boxes_o, py::handle interiors_o, py::handle has_interior_o,
              py::handle joint_o, py::handle present_o, py::handle exists_o, py::handle symbolic_o,
              py::handle format_ok_o, py::handle plan_length_o, py::handle executed_o, py::handle objects_o,
              py::handle relevant_o, const std::string& device, int threads, py::handle stream_o, py::handle out_o,
              bool timed) {
  const emx::StateCheck& check = *self.check;
  const auto& prog = check.program();
  const int64_t N = prog.num_objects, A = prog.num_atoms, S = static_cast<int64_t>(prog.symbolic.size());
  if (device != "auto" && device != "cpu" && device != "cuda")
    throw py::value_error("device must be 'auto', 'cpu' or 'cuda', got '" + device + "'");
  intptr_t stream = stream_handle(stream_o);

  std::vector<Arg> args;
  args.push_back(parse("boxes", boxes_o, Dtype::kF32, stream));
  args.push_back(parse("interiors", interiors_o, Dtype::kF32, stream));
  args.push_back(parse("has_interior", has_interior_o, Dtype::kU8, stream));
  args.push_back(parse("joint_fraction", joint_o, Dtype::kF32, stream));
  args.push_back(parse("present", present_o, Dtype::kU8, stream));
  args.push_back(parse("exists", exists_o, Dtype::kU8, stream));
  args.push_back(parse("symbolic", symbolic_o, Dtype::kU8, stream));
  args.push_back(parse("format_ok", format_ok_o, Dtype::kU8, stream));
  args.push_back(parse("plan_length", plan_length_o, Dtype::kI32, stream));
  args.push_back(parse("executed", executed_o, Dtype::kI32, stream));
  args.push_back(parse("objects_named", objects_o, Dtype::kI32, stream));
  args.push_back(parse("relevant_named", relevant_o, Dtype::kI32, stream));
  Arg &boxes = args[0], &interiors = args[1], &has_interior = args[2], &joint = args[3], &present = args[4],
      &exists = args[5], &symbolic = args[6];

  // The batch size: the first given of boxes, symbolic, present, format_ok.
  int64_t B = -1;
  for (const Arg* a : {&boxes, &symbolic, &present, &args[7]})
    if (a->given && !a->shape.empty()) {
      B = a->shape[0];
      break;
    }
  if (B < 0) throw py::value_error("cannot tell the number of worlds: pass boxes (B, N, 2, 3)");
  const std::string b = std::to_string(B), n = std::to_string(N);
  if (boxes.given && boxes.shape.size() == 3) need_shape(boxes, {B, N, 6}, "(" + b + ", " + n + ", 2, 3)");
  else need_shape(boxes, {B, N, 2, 3}, "(" + b + ", " + n + ", 2, 3) [[min xyz], [max xyz]] per task object");
  if (interiors.given && interiors.shape.size() == 3) need_shape(interiors, {B, N, 6}, "(" + b + ", " + n + ", 2, 3)");
  else need_shape(interiors, {B, N, 2, 3}, "(" + b + ", " + n + ", 2, 3)");
  const bool per_world = has_interior.given && has_interior.shape.size() == 2;
  if (per_world) need_shape(has_interior, {B, N}, "(" + n + ",) or (" + b + ", " + n + ")");
  else need_shape(has_interior, {N}, "(" + n + ",) or (" + b + ", " + n + ")");
  need_shape(joint, {B, N}, "(" + b + ", " + n + ")");
  need_shape(present, {B, N}, "(" + b + ", " + n + ")");
  need_shape(exists, {B, N}, "(" + b + ", " + n + ")");
  if (symbolic.given) need_shape(symbolic, {B, S}, "(" + b + ", " + std::to_string(S) + "): one column per StateCheck.symbolic_atoms");
  for (size_t k = 7; k < args.size(); ++k) need_shape(args[k], {B}, "(" + b + ",)");
  if (interiors.given != has_interior.given)
    throw py::value_error("interiors and has_interior go together: pass both or neither");

  bool any_device = false, any_host = false;
  for (const Arg& a : args) {
    if (!a.given) continue;
    (a.device ? any_device : any_host) = true;
    if (a.device && a.stream && !stream) stream = a.stream;
  }
  if (any_device && any_host) {
    std::string dev, host;
    for (const Arg& a : args)
      if (a.given) (a.device ? dev : host) += (a.device ? dev : host).empty() ? a.name : ", " + a.name;
    throw py::value_error("mixed inputs: " + dev + " on a CUDA device, " + host +
                          " on the host; pass all of them on one side");
  }
  const bool usable = emx::cuda_device_count() > 0;
  if (device == "cuda" && !usable)
    throw std::runtime_error(std::string("device='cuda' but no usable CUDA device (") +
                             (emx::built_with_cuda() ? "emx was built with CUDA; the driver or the device is missing"
                                                     : "emx was built without CUDA") + ")");
  if (any_device && !usable)
    throw std::runtime_error(std::string("the inputs are CUDA device arrays but no usable CUDA device is available (") +
                             (emx::built_with_cuda() ? "emx was built with CUDA; the driver or the device is missing"
                                                     : "emx was built without CUDA") +
                             "); pass host (numpy) arrays to use the CPU path");
  // Device arrays run on the device unless the CPU is asked for; host arrays
  // run on the CPU unless device='cuda'.
  const bool cpu_forced = device == "cpu" || (device == "auto" && emx::active_backend() == "cpu");
  const bool run_cuda = any_device ? !cpu_forced : device == "cuda";

  py::dict out = out_o.is_none() ? py::dict() : out_o.cast<py::dict>();
  py::dict result;
  std::vector<std::shared_ptr<void>> staged;  // device copies of host inputs, host copies of device inputs
  std::vector<std::vector<uint8_t>> host_staged;

  auto fill_inputs = [&](emx::StateCheckInputs& in) {
    in.worlds = B;
    in.boxes = static_cast<const float*>(boxes.ptr);
    in.interiors = static_cast<const float*>(interiors.ptr);
    in.has_interior = static_cast<const uint8_t*>(has_interior.ptr);
    in.has_interior_per_world = per_world;
    in.joint_fraction = static_cast<const float*>(joint.ptr);
    in.present = static_cast<const uint8_t*>(present.ptr);
    in.exists = static_cast<const uint8_t*>(exists.ptr);
    in.symbolic = static_cast<const uint8_t*>(symbolic.ptr);
    in.format_ok = static_cast<const uint8_t*>(args[7].ptr);
    in.plan_length = static_cast<const int32_t*>(args[8].ptr);
    in.executed = static_cast<const int32_t*>(args[9].ptr);
    in.objects_named = static_cast<const int32_t*>(args[10].ptr);
    in.relevant_named = static_cast<const int32_t*>(args[11].ptr);
  };

  // Device inputs: their device is current for the call (outputs are allocated there).
  struct DeviceScope {
    int previous = -1;
    explicit DeviceScope(int device) {
      if (device < 0) return;
      previous = emx::cuda_current_device();
      if (previous != device) emx::cuda_set_device(device);
      else previous = -1;
    }
    ~DeviceScope() {
      if (previous >= 0) {
        try {
          emx::cuda_set_device(previous);
        } catch (...) {
        }
      }
    }
  };
  int input_device = -1;
  for (const Arg& a : args)
    if (a.given && a.device && input_device < 0)
      input_device = a.device_id >= 0 ? a.device_id : emx::cuda_pointer_device(a.ptr);
  DeviceScope scope(any_device ? input_device : -1);

  if (run_cuda) {
    if (!any_device) {
      // device='cuda' with host arrays: stage them on the device.
      for (Arg& a : args) {
        if (!a.given || a.size() == 0) continue;
        std::shared_ptr<void> d = emx::cuda_allocate(a.bytes());
        emx::cuda_copy_to_device(d.get(), a.ptr, a.bytes());
        a.ptr = d.get();
        staged.push_back(d);
      }
    }
    emx::StateCheckInputs in;
    fill_inputs(in);
    const bool device_out = any_device;
    const intptr_t out_stream = stream ? stream : 1;
    OutSlot atoms = out_slot(out, "atom_truth", device_out, {B, A}, Dtype::kU8, "|u1", out_stream);
    OutSlot success = out_slot(out, "success", device_out, {B}, Dtype::kU8, "|b1", out_stream);
    OutSlot fraction = out_slot(out, "fraction", device_out, {B}, Dtype::kF64, "<f8", out_stream);
    OutSlot reward = out_slot(out, "reward", device_out, {B}, Dtype::kF64, "<f8", out_stream);
    std::vector<std::shared_ptr<void>> dev_out;
    emx::StateCheckOutputs o;
    if (device_out) {
      o = {static_cast<uint8_t*>(atoms.ptr), static_cast<uint8_t*>(success.ptr), static_cast<double*>(fraction.ptr),
           static_cast<double*>(reward.ptr)};
    } else {
      const size_t sizes[4] = {static_cast<size_t>(B * A), static_cast<size_t>(B), static_cast<size_t>(B) * 8,
                               static_cast<size_t>(B) * 8};
      for (size_t s : sizes) dev_out.push_back(emx::cuda_allocate(s));
      o = {static_cast<uint8_t*>(dev_out[0].get()), static_cast<uint8_t*>(dev_out[1].get()),
           static_cast<double*>(dev_out[2].get()), static_cast<double*>(dev_out[3].get())};
    }
    double seconds = 0;
    {
      py::gil_scoped_release release;
      // Inputs produced on other streams (their __cuda_array_interface__ says
      // which) are waited for on the launch stream.
      for (const Arg& a : args)
        if (a.given && a.device && a.stream && a.stream != stream)
          emx::cuda_stream_wait(reinterpret_cast<void*>(stream), reinterpret_cast<void*>(a.stream));
      seconds = check.run_cuda(in, o, reinterpret_cast<void*>(stream), timed);
      if (!device_out) {
        emx::cuda_synchronize();
        emx::cuda_copy_to_host(atoms.ptr, o.atom_truth, B * A);
        emx::cuda_copy_to_host(success.ptr, o.success, B);
        emx::cuda_copy_to_host(fraction.ptr, o.fraction, B * 8);
        emx::cuda_copy_to_host(reward.ptr, o.reward, B * 8);
      }
    }
    result["atom_truth"] = atoms.object;
    result["success"] = success.object;
    result["fraction"] = fraction.object;
    result["reward"] = reward.object;
    result["backend"] = "cuda";
    if (timed) result["gpu_seconds"] = seconds;
    return result;
  }

  if (any_device) {
    // EMX_DEVICE=cpu or device='cpu' with device arrays: copy them to the host.
    for (Arg& a : args) {
      if (!a.given || a.size() == 0) continue;
      host_staged.emplace_back(a.bytes());
      {
        py::gil_scoped_release release;
        emx::cuda_synchronize();
        emx::cuda_copy_to_host(host_staged.back().data(), a.ptr, a.bytes());
      }
      a.ptr = host_staged.back().data();
    }
  }
  emx::StateCheckInputs in;
  fill_inputs(in);
  OutSlot atoms = out_slot(out, "atom_truth", false, {B, A}, Dtype::kU8, "|u1", 0);
  OutSlot success = out_slot(out, "success", false, {B}, Dtype::kU8, "|b1", 0);
  OutSlot fraction = out_slot(out, "fraction", false, {B}, Dtype::kF64, "<f8", 0);
  OutSlot reward = out_slot(out, "reward", false, {B}, Dtype::kF64, "<f8", 0);
  emx::StateCheckOutputs o{static_cast<uint8_t*>(atoms.ptr), static_cast<uint8_t*>(success.ptr),
                           static_cast<double*>(fraction.ptr), static_cast<double*>(reward.ptr)};
  // Ctrl-C skips the rest (given `out` arrays then hold a partial result) and raises.
  emx_py::run_interruptible([&] { check.run_cpu(in, o, threads); });
  result["atom_truth"] = atoms.object;
  result["success"] = success.object;
  result["fraction"] = fraction.object;
  result["reward"] = reward.object;
  result["backend"] = "cpu";
  return result;
}

}  // namespace

void bind_state_check(py::module_& m) {
  py::class_<DeviceArray>(m, "DeviceArray",
                          "CUDA device memory with __cuda_array_interface__ (version 3): torch.as_tensor(a, "
                          "device='cuda') and cupy.asarray(a) wrap it without a copy. numpy() copies it back.")
      .def_property_readonly("__cuda_array_interface__", &DeviceArray::interface)
      .def_property_readonly("shape", [](const DeviceArray& a) {
        py::tuple t(a.shape.size());
        for (size_t k = 0; k < a.shape.size(); ++k) t[k] = a.shape[k];
        return t;
      })
      .def_property_readonly("dtype", [](const DeviceArray& a) { return py::dtype(a.typestr); })
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("ptr", [](const DeviceArray& a) { return reinterpret_cast<uintptr_t>(a.memory.get()); })
      .def("numpy", &DeviceArray::numpy, "A host copy (waits for the device)")
      .def("__len__", [](const DeviceArray& a) { return a.shape.empty() ? 0 : a.shape[0]; })
      .def("__repr__", [](const DeviceArray& a) { return "DeviceArray(shape=" + shape_text(a.shape) + ", typestr='" + a.typestr + "')"; });

  m.def("cuda_array", &to_device, "A DeviceArray holding a copy of a host array (needs a usable CUDA device).",
        py::arg("array"));
  m.def("cuda_synchronize", [] {
    py::gil_scoped_release release;
    emx::cuda_synchronize();
  }, "Waits for all work on the current CUDA device.");
  m.def("cuda_device_info", [](int device) {
    emx::CudaDeviceInfo i = emx::cuda_device_info(device);
    py::dict d;
    d["device"] = i.device;
    d["name"] = i.name;
    d["multiprocessors"] = i.multiprocessors;
    d["memory_clock_khz"] = i.memory_clock_khz;
    d["memory_bus_bits"] = i.memory_bus_bits;
    d["peak_bandwidth_bytes_per_s"] = i.peak_bandwidth;
    d["global_memory_bytes"] = i.global_memory;
    return d;
  }, py::arg("device") = 0, "Name, memory clock, bus width and peak memory bandwidth of a CUDA device.");

  py::class_<PyStateCheck>(m, "StateCheck",
                           "A task's goal compiled for batched checks of B worlds (emx/state_check.hpp): per-atom "
                           "truth, success, goal fraction and reward from object boxes, joints and symbolic bits.\n"
                           "Call it with boxes (B, N, 2, 3) float32 and the optional inputs; numpy arrays run on the "
                           "CPU threads, CUDA arrays (__cuda_array_interface__ / __dlpack__) on the GPU.")
      .def(py::init([](const PyTask& t, py::handle reward) {
             return PyStateCheck{std::make_shared<emx::StateCheck>(t.task, reward_of(reward))};
           }),
           py::arg("task"), py::arg("reward") = "default")
      .def_property_readonly("num_objects", [](const PyStateCheck& s) { return s.check->program().num_objects; })
      .def_property_readonly("num_atoms", [](const PyStateCheck& s) { return s.check->program().num_atoms; })
      .def_property_readonly("num_symbolic", [](const PyStateCheck& s) { return s.check->program().symbolic.size(); })
      .def_property_readonly("num_pairs", [](const PyStateCheck& s) { return s.check->program().pairs.size(); })
      .def_property_readonly("num_nodes", [](const PyStateCheck& s) { return s.check->program().num_nodes; })
      .def_property_readonly("goal_objects", [](const PyStateCheck& s) { return s.check->program().goal_objects; })
      .def_property_readonly("bytes_per_world", [](const PyStateCheck& s) { return s.check->program().bytes_per_world; },
                             "Least bytes one world's check reads and writes (for bandwidth bounds)")
      .def_property_readonly("reward", [](const PyStateCheck& s) { return s.check->program().reward; })
      .def_property_readonly("atoms", [](const PyStateCheck& s) {
        std::vector<std::string> out;
        for (const auto& a : s.check->task().goal.atoms) out.push_back(atom_text(s.check->task(), a));
        return out;
      }, "The goal's ground atoms: the columns of atom_truth")
      .def_property_readonly("atom_sources", [](const PyStateCheck& s) {
        std::vector<std::string> out;
        for (auto src : s.check->program().atom_source) out.emplace_back(source_name(src));
        return out;
      }, "Per atom: 'geometry', 'joint' (open; symbolic when the object has no joint), 'symbolic' or 'false'")
      .def_property_readonly("symbolic_atoms", [](const PyStateCheck& s) {
        std::vector<std::string> out;
        for (const auto& a : s.check->program().symbolic) out.push_back(atom_text(s.check->task(), a));
        return out;
      }, "The columns of the symbolic input")
      .def_property_readonly("pairs", [](const PyStateCheck& s) { return s.check->program().pairs; },
                             "The ordered object pairs whose relations are computed")
      .def("symbolic", &symbolic_rows, py::arg("states"),
           "The symbolic input (B, S) uint8 for a list of WorldStates")
      .def("exists", &exists_rows, py::arg("states"), "The exists input (B, N) uint8 for a list of WorldStates")
      .def("__call__", &call, py::arg("boxes"), py::arg("interiors") = py::none(), py::arg("has_interior") = py::none(),
           py::arg("joint_fraction") = py::none(), py::arg("present") = py::none(), py::arg("exists") = py::none(),
           py::arg("symbolic") = py::none(), py::arg("format_ok") = py::none(), py::arg("plan_length") = py::none(),
           py::arg("executed") = py::none(), py::arg("objects_named") = py::none(),
           py::arg("relevant_named") = py::none(), py::kw_only(), py::arg("device") = "auto", py::arg("threads") = 0,
           py::arg("stream") = py::none(), py::arg("out") = py::none(), py::arg("timed") = false,
           "Checks B worlds; returns {'atom_truth': (B, A) uint8, 'success': (B,) bool, 'fraction': (B,) float64, "
           "'reward': (B,) float64, 'backend': 'cpu' | 'cuda'}.\n"
           "device: 'auto' (CUDA arrays on the GPU unless EMX_DEVICE=cpu, host arrays on the CPU), 'cpu', 'cuda'. "
           "threads: CPU threads (0: all cores). stream: CUDA stream for the kernels (int handle, torch or CuPy "
           "stream; default: the inputs' stream, else the legacy default stream); CUDA outputs are not "
           "synchronised: their __cuda_array_interface__ names the stream. out: a dict of arrays to write into "
           "(e.g. a previous result). timed: adds 'gpu_seconds', the kernels' GPU time (synchronises).");
}

}  // namespace emx_py
