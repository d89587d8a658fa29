// Encoding and decoding of the worker protocol frames (emx/worker_protocol.hpp).
#include "emx/worker_protocol.hpp"

#include <cstring>

namespace emx::wire {

void Writer::u32(uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out_.append(b, 4);
}

void Writer::u64(uint64_t v) {
  u32(static_cast<uint32_t>(v));
  u32(static_cast<uint32_t>(v >> 32));
}

void Writer::f32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  u32(bits);
}

void Writer::f64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  u64(bits);
}

void Writer::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  out_.append(s.data(), s.size());
}

size_t Writer::begin_frame(MsgType t) {
  size_t start = out_.size();
  u32(0);
  u8(static_cast<uint8_t>(t));
  return start;
}

void Writer::end_frame(size_t start) {
  size_t len = out_.size() - start - 4;
  if (len > kMaxFrameBytes) throw ProtocolError("frame too large: " + std::to_string(len) + " bytes");
  uint32_t v = static_cast<uint32_t>(len);
  for (int i = 0; i < 4; ++i) out_[start + i] = static_cast<char>(v >> (8 * i));
}

void Reader::need(size_t n) const {
  if (static_cast<size_t>(end_ - p_) < n) throw ProtocolError("truncated frame");
}

uint8_t Reader::u8() {
  need(1);
  return static_cast<uint8_t>(*p_++);
}

uint32_t Reader::u32() {
  need(4);
  const auto* b = reinterpret_cast<const unsigned char*>(p_);
  p_ += 4;
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
         static_cast<uint32_t>(b[3]) << 24;
}

uint64_t Reader::u64() {
  uint64_t lo = u32();
  uint64_t hi = u32();
  return lo | hi << 32;
}

float Reader::f32() {
  uint32_t bits = u32();
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

double Reader::f64() {
  uint64_t bits = u64();
  double v;
  std::memcpy(&v, &bits, 8);
  return v;
}

std::string Reader::str() {
  uint32_t n = u32();
  need(n);
  std::string s(p_, n);
  p_ += n;
  return s;
}

uint32_t Reader::count(size_t min_bytes) {
  uint32_t n = u32();
  if (min_bytes > 0 && static_cast<size_t>(n) > remaining() / min_bytes) throw ProtocolError("count exceeds frame");
  return n;
}

size_t next_frame(const char* buf, size_t n, FrameView* frame) {
  if (n < 4) return 0;
  const auto* b = reinterpret_cast<const unsigned char*>(buf);
  uint32_t len = static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
                 static_cast<uint32_t>(b[3]) << 24;
  if (len == 0) throw ProtocolError("empty frame");
  if (len > kMaxFrameBytes) throw ProtocolError("frame too large: " + std::to_string(len) + " bytes");
  if (n - 4 < len) return 0;
  frame->type = static_cast<MsgType>(b[4]);
  frame->data = buf + 5;
  frame->size = len - 1;
  return 4 + static_cast<size_t>(len);
}

// ---------------------------------------------------------------- actions

void encode_action(Writer& w, const Action& a) {
  w.u8(static_cast<uint8_t>(a.type));
  w.u8(static_cast<uint8_t>(a.relation));
  w.u8(static_cast<uint8_t>(a.error));
  w.u8(0);
  w.i32(a.obj[0]);
  w.i32(a.obj[1]);
  w.f32(a.num[0]);
  w.f32(a.num[1]);
  w.i32(a.room);
  w.str(a.detail);
}

Action decode_action(Reader& r) {
  Action a;
  uint8_t type = r.u8();
  if (type >= kNumActionTypes && type != static_cast<uint8_t>(ActionType::kInvalid))
    throw ProtocolError("bad action type " + std::to_string(type));
  a.type = static_cast<ActionType>(type);
  a.relation = static_cast<int8_t>(r.u8());
  uint8_t err = r.u8();
  if (err >= static_cast<uint8_t>(ErrorType::kCount)) throw ProtocolError("bad action error " + std::to_string(err));
  a.error = static_cast<ErrorType>(err);
  r.u8();
  a.obj[0] = r.i32();
  a.obj[1] = r.i32();
  a.num[0] = r.f32();
  a.num[1] = r.f32();
  a.room = r.i32();
  a.detail = r.str();
  return a;
}

std::string encode_actions(const std::vector<Action>& plan) {
  std::string out;
  Writer w(out);
  w.u32(static_cast<uint32_t>(plan.size()));
  for (const Action& a : plan) encode_action(w, a);
  return out;
}

std::vector<Action> decode_actions(std::string_view bytes) {
  Reader r(bytes.data(), bytes.size());
  uint32_t n = r.count(kActionRecordBytes);
  std::vector<Action> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(decode_action(r));
  if (!r.done()) throw ProtocolError("trailing bytes after actions");
  return out;
}

int compare_actions(const Action& a, const Action& b) {
  auto cmp = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  auto bits = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
  };
  int c;
  if ((c = cmp(static_cast<int>(a.type), static_cast<int>(b.type)))) return c;
  if ((c = cmp(a.obj[0], b.obj[0]))) return c;
  if ((c = cmp(a.obj[1], b.obj[1]))) return c;
  if ((c = cmp(bits(a.num[0]), bits(b.num[0])))) return c;
  if ((c = cmp(bits(a.num[1]), bits(b.num[1])))) return c;
  if ((c = cmp(a.relation, b.relation))) return c;
  if ((c = cmp(a.room, b.room))) return c;
  if ((c = cmp(static_cast<int>(a.error), static_cast<int>(b.error)))) return c;
  return a.detail.compare(b.detail) < 0 ? -1 : (a.detail == b.detail ? 0 : 1);
}

// ---------------------------------------------------------------- messages

void encode(std::string& out, const Hello& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kHello);
  w.u32(m.version);
  w.u32(m.capabilities);
  w.f64(m.speed);
  w.f64(m.load_seconds);
  w.u32(m.scene_cache);
  w.i32(m.pid);
  w.str(m.name);
  w.end_frame(f);
}

void encode(std::string& out, const KnowledgeBase& kb) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kKnowledge);
  w.u32(static_cast<uint32_t>(kb.abilities.size()));
  for (const auto& [category, bits] : kb.abilities) {
    w.str(category);
    w.u32(bits);
  }
  w.end_frame(f);
}

void encode(std::string& out, const TaskMsg& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kTask);
  w.u32(m.id);
  w.str(m.key);
  w.str(m.filename);
  w.str(m.bddl);
  w.str(m.scene);
  w.end_frame(f);
}

void encode(std::string& out, const RewardMsg& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kReward);
  const RewardConfig& c = m.config;
  w.u32(m.id);
  w.str(c.name);
  for (double v : {c.format_fail, c.format, c.executability, c.goal, c.success, c.length, c.objects, c.relevance})
    w.f64(v);
  w.end_frame(f);
}

void encode(std::string& out, const GroupMsg& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kGroup);
  w.u64(m.job);
  w.u32(m.task);
  w.u32(m.reward);
  w.u8(static_cast<uint8_t>(m.mode));
  w.u8(m.flags);
  w.u64(m.seed);
  w.u32(static_cast<uint32_t>(m.plans.size()));
  for (const PlanMsg& p : m.plans) {
    w.u32(p.index);
    w.u8(p.format_ok ? 1 : 0);
    w.u32(p.resume_depth);
    w.u32(static_cast<uint32_t>(p.save_depths.size()));
    for (uint32_t d : p.save_depths) w.u32(d);
    w.u32(static_cast<uint32_t>(p.suffix.size()));
    for (const Action& a : p.suffix) encode_action(w, a);
  }
  w.end_frame(f);
}

void encode(std::string& out, const ResultMsg& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kResult);
  w.u64(m.job);
  w.u32(m.index);
  w.u8(static_cast<uint8_t>(m.status));
  w.f64(m.run_seconds);
  w.f64(m.load_seconds);
  w.u32(m.simulated_actions);
  if (m.status != ResultStatus::kOk) {
    w.str(m.error);
    w.end_frame(f);
    return;
  }
  const RewardComponents& c = m.components;
  w.u8(c.format_ok ? 1 : 0);
  w.u8(c.success ? 1 : 0);
  w.u8(m.completed ? 1 : 0);
  w.u8(static_cast<uint8_t>(m.first_error));
  w.i32(m.executed);
  w.i32(c.plan_length);
  w.f64(m.reward);
  w.f64(c.executability);
  w.f64(c.goal_fraction);
  w.i32(c.objects_named);
  w.i32(c.relevant_named);
  w.i32(c.goal_objects);
  w.u32(static_cast<uint32_t>(m.steps.size()));
  for (const StepRecord& s : m.steps) {
    w.u8(static_cast<uint8_t>(s.error));
    w.u8(s.ok ? 1 : 0);
    w.str(s.message);
  }
  w.u32(static_cast<uint32_t>(m.condition_truth.size()));
  w.raw(m.condition_truth.data(), m.condition_truth.size());
  w.u32(static_cast<uint32_t>(m.atom_truth.size()));
  w.raw(m.atom_truth.data(), m.atom_truth.size());
  w.end_frame(f);
}

void encode(std::string& out, const Heartbeat& m) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kHeartbeat);
  w.u64(m.seq);
  w.end_frame(f);
}

void encode_shutdown(std::string& out) {
  Writer w(out);
  size_t f = w.begin_frame(MsgType::kShutdown);
  w.end_frame(f);
}

namespace {

void expect(const FrameView& f, MsgType t) {
  if (f.type != t)
    throw ProtocolError("expected frame type " + std::to_string(static_cast<int>(t)) + ", got " +
                        std::to_string(static_cast<int>(f.type)));
}

void finish(const Reader& r) {
  if (!r.done()) throw ProtocolError("trailing bytes in frame");
}

ErrorType error_type(uint8_t v) {
  if (v >= static_cast<uint8_t>(ErrorType::kCount)) throw ProtocolError("bad error type " + std::to_string(v));
  return static_cast<ErrorType>(v);
}

std::vector<uint8_t> byte_vector(Reader& r) {
  uint32_t n = r.count(1);
  std::vector<uint8_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = r.u8();
  return v;
}

}  // namespace

Hello decode_hello(const FrameView& f) {
  expect(f, MsgType::kHello);
  Reader r(f.data, f.size);
  Hello m;
  m.version = r.u32();
  m.capabilities = r.u32();
  m.speed = r.f64();
  m.load_seconds = r.f64();
  m.scene_cache = r.u32();
  m.pid = r.i32();
  m.name = r.str();
  finish(r);
  return m;
}

KnowledgeBase decode_knowledge(const FrameView& f) {
  expect(f, MsgType::kKnowledge);
  Reader r(f.data, f.size);
  KnowledgeBase kb;
  uint32_t n = r.count(8);
  kb.abilities.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string category = r.str();
    kb.abilities[std::move(category)] = r.u32();
  }
  finish(r);
  return kb;
}

TaskMsg decode_task(const FrameView& f) {
  expect(f, MsgType::kTask);
  Reader r(f.data, f.size);
  TaskMsg m;
  m.id = r.u32();
  m.key = r.str();
  m.filename = r.str();
  m.bddl = r.str();
  m.scene = r.str();
  finish(r);
  return m;
}

RewardMsg decode_reward(const FrameView& f) {
  expect(f, MsgType::kReward);
  Reader r(f.data, f.size);
  RewardMsg m;
  RewardConfig& c = m.config;
  m.id = r.u32();
  c.name = r.str();
  for (double* v : {&c.format_fail, &c.format, &c.executability, &c.goal, &c.success, &c.length, &c.objects,
                    &c.relevance})
    *v = r.f64();
  finish(r);
  return m;
}

GroupMsg decode_group(const FrameView& f) {
  expect(f, MsgType::kGroup);
  Reader r(f.data, f.size);
  GroupMsg m;
  m.job = r.u64();
  m.task = r.u32();
  m.reward = r.u32();
  uint8_t mode = r.u8();
  if (mode > 1) throw ProtocolError("bad mode " + std::to_string(mode));
  m.mode = static_cast<Mode>(mode);
  m.flags = r.u8();
  m.seed = r.u64();
  uint32_t n = r.count(17);
  m.plans.resize(n);
  for (PlanMsg& p : m.plans) {
    p.index = r.u32();
    p.format_ok = r.u8() != 0;
    p.resume_depth = r.u32();
    uint32_t ns = r.count(4);
    p.save_depths.resize(ns);
    for (uint32_t& d : p.save_depths) d = r.u32();
    uint32_t na = r.count(kActionRecordBytes);
    p.suffix.reserve(na);
    for (uint32_t i = 0; i < na; ++i) p.suffix.push_back(decode_action(r));
  }
  finish(r);
  return m;
}

ResultMsg decode_result(const FrameView& f) {
  expect(f, MsgType::kResult);
  Reader r(f.data, f.size);
  ResultMsg m;
  m.job = r.u64();
  m.index = r.u32();
  uint8_t status = r.u8();
  if (status > 1) throw ProtocolError("bad result status " + std::to_string(status));
  m.status = static_cast<ResultStatus>(status);
  m.run_seconds = r.f64();
  m.load_seconds = r.f64();
  m.simulated_actions = r.u32();
  if (m.status != ResultStatus::kOk) {
    m.error = r.str();
    finish(r);
    return m;
  }
  RewardComponents& c = m.components;
  c.format_ok = r.u8() != 0;
  c.success = r.u8() != 0;
  m.completed = r.u8() != 0;
  m.first_error = error_type(r.u8());
  m.executed = r.i32();
  c.plan_length = r.i32();
  m.reward = r.f64();
  c.executability = r.f64();
  c.goal_fraction = r.f64();
  c.objects_named = r.i32();
  c.relevant_named = r.i32();
  c.goal_objects = r.i32();
  uint32_t ns = r.count(6);
  m.steps.resize(ns);
  for (StepRecord& s : m.steps) {
    s.error = error_type(r.u8());
    s.ok = r.u8() != 0;
    s.message = r.str();
  }
  m.condition_truth = byte_vector(r);
  m.atom_truth = byte_vector(r);
  finish(r);
  return m;
}

Heartbeat decode_heartbeat(const FrameView& f) {
  expect(f, MsgType::kHeartbeat);
  Reader r(f.data, f.size);
  Heartbeat m;
  m.seq = r.u64();
  finish(r);
  return m;
}

}  // namespace emx::wire
