// The rollout worker protocol: length-prefixed binary frames over a worker's
// stdin/stdout (one AF_UNIX stream socket, both directions).
//
// Frame:   u32 length (bytes after this field) | u8 type | payload
// Scalars are little-endian; f32/f64 are IEEE-754; a string is u32 length +
// bytes. Everything is fixed-layout so a worker can be written with nothing
// but Python's struct module (python/emx/rollout/protocol.py does exactly that).
//
//   parent -> worker                         worker -> parent
//   KNOWLEDGE  category -> ability bits      HELLO      capabilities, speed, cache size
//   TASK       id, key, BDDL, scene          RESULT     one per plan, as each completes
//   REWARD     id, weights                   HEARTBEAT  while idle and between steps
//   GROUP      job: plans + prefix schedule
//   SHUTDOWN
//
// A worker answers HELLO first, before reading anything. The parent sends
// KNOWLEDGE once, TASK and REWARD once per worker before the first GROUP that
// names them. A GROUP is one episode or a GRPO group; its plans come in
// prefix-schedule order (emx/rollout_prefix.hpp): plan k restores the state
// saved at depth resume_depth, runs its remaining actions, and saves the state
// at each of save_depths on the way, for the plans after it. A worker handles
// GROUPs strictly in arrival order and sends one RESULT per plan.
//
// Action record (28 bytes + detail): u8 type, u8 relation, u8 error, u8 0,
// i32 obj0, i32 obj1, f32 num0, f32 num1, i32 room, u32 detail length, detail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "emx/actions.hpp"
#include "emx/reward.hpp"
#include "emx/task.hpp"

namespace emx::wire {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kMaxFrameBytes = 256u << 20;
inline constexpr size_t kActionRecordBytes = 28;

enum class MsgType : uint8_t {
  kHello = 1,
  kKnowledge = 2,
  kTask = 3,
  kReward = 4,
  kGroup = 5,
  kResult = 6,
  kHeartbeat = 7,
  kShutdown = 8,
};

/// What a worker can run. A job's mode needs one of these bits.
enum Capability : uint32_t {
  kCapSymbolic = 1u << 0,
  kCapCpuPhysics = 1u << 1,
  kCapGpuPhysics = 1u << 2,
  kCapRendering = 1u << 3,
};

/// GROUP flags.
enum GroupFlag : uint8_t {
  kKeepTrace = 1u << 0,        // send every step's (error, message)
  kNoSnapshotReuse = 1u << 1,  // physics: rebuild the scene for every plan (benchmarks)
  kNoop = 1u << 2,             // do nothing, answer an empty result (dispatch benchmarks)
};

enum class Mode : uint8_t { kSymbolic = 0, kPhysics = 1 };

enum class ResultStatus : uint8_t { kOk = 0, kError = 1 };

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Hello {
  uint32_t version = kProtocolVersion;
  uint32_t capabilities = 0;
  double speed = 0.0;          // actions per second, measured by the worker at start
  double load_seconds = 0.0;   // expected cost of loading a task/scene it has not cached
  uint32_t scene_cache = 0;    // tasks/scenes its LRU cache holds
  int32_t pid = 0;
  std::string name;
};

struct TaskMsg {
  uint32_t id = 0;
  std::string key;
  std::string filename;
  std::string bddl;
  std::string scene;           // physics scene (JSON), empty: the worker builds one
};

struct RewardMsg {
  uint32_t id = 0;
  RewardConfig config;
};

struct PlanMsg {
  uint32_t index = 0;          // position of the episode in its job
  bool format_ok = true;
  uint32_t resume_depth = 0;   // restore the state saved at this depth (0: the initial state)
  std::vector<uint32_t> save_depths;  // save the state at these depths (> resume_depth), ascending
  std::vector<Action> suffix;  // the plan's actions from resume_depth on
};

struct GroupMsg {
  uint64_t job = 0;
  uint32_t task = 0;
  uint32_t reward = 0;
  Mode mode = Mode::kSymbolic;
  uint8_t flags = 0;
  uint64_t seed = 0;
  std::vector<PlanMsg> plans;
};

struct StepRecord {
  ErrorType error = ErrorType::kNone;
  bool ok = true;
  std::string message;
};

struct ResultMsg {
  uint64_t job = 0;
  uint32_t index = 0;
  ResultStatus status = ResultStatus::kOk;
  double run_seconds = 0.0;     // this plan's own work on the worker
  double load_seconds = 0.0;    // loading the task/scene for this plan (0 when cached)
  uint32_t simulated_actions = 0;  // actions this plan executed itself (shared prefixes count once)
  RewardComponents components;
  double reward = 0.0;
  int32_t executed = 0;
  bool completed = false;
  ErrorType first_error = ErrorType::kNone;
  std::vector<StepRecord> steps;   // with kKeepTrace
  std::vector<uint8_t> condition_truth;
  std::vector<uint8_t> atom_truth;
  std::string error;               // kError: why the worker could not run it (not retried)
};

struct Heartbeat {
  uint64_t seq = 0;
};

/// Appends little-endian scalars to a byte string.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
  void f32(float v);
  void f64(double v);
  void str(std::string_view s);
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  /// Starts a frame: reserves the length field; returns its offset for end_frame.
  size_t begin_frame(MsgType t);
  void end_frame(size_t start);
  std::string& out() { return out_; }

 private:
  std::string& out_;
};

/// Reads what Writer wrote; throws ProtocolError on a short or malformed payload.
class Reader {
 public:
  Reader(const char* data, size_t size) : p_(data), end_(data + size) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  int32_t i32() { return static_cast<int32_t>(u32()); }
  float f32();
  double f64();
  std::string str();
  /// A count that must be followed by at least count * min_bytes bytes.
  uint32_t count(size_t min_bytes);
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool done() const { return p_ == end_; }

 private:
  void need(size_t n) const;
  const char* p_;
  const char* end_;
};

struct FrameView {
  MsgType type{};
  const char* data = nullptr;  // payload after the type byte
  size_t size = 0;
};

/// Splits the next complete frame off buf[0, n). Returns the bytes it takes
/// (0: incomplete). Throws ProtocolError on an oversized or empty frame.
size_t next_frame(const char* buf, size_t n, FrameView* frame);

void encode_action(Writer& w, const Action& a);
Action decode_action(Reader& r);
std::string encode_actions(const std::vector<Action>& plan);
std::vector<Action> decode_actions(std::string_view bytes);
/// Strict total order on actions (the bytes of the record): what prefix sharing compares.
int compare_actions(const Action& a, const Action& b);

void encode(std::string& out, const Hello& m);
void encode(std::string& out, const KnowledgeBase& kb);
void encode(std::string& out, const TaskMsg& m);
void encode(std::string& out, const RewardMsg& m);
void encode(std::string& out, const GroupMsg& m);
void encode(std::string& out, const ResultMsg& m);
void encode(std::string& out, const Heartbeat& m);
void encode_shutdown(std::string& out);

Hello decode_hello(const FrameView& f);
KnowledgeBase decode_knowledge(const FrameView& f);
TaskMsg decode_task(const FrameView& f);
RewardMsg decode_reward(const FrameView& f);
GroupMsg decode_group(const FrameView& f);
ResultMsg decode_result(const FrameView& f);
Heartbeat decode_heartbeat(const FrameView& f);

}  // namespace emx::wire
