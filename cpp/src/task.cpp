// compile_task: Problem (names, S-expressions) -> Task (indices, bits, flat goal program).
#include <cstdlib>
#include "emx/task.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace emx {

uint32_t KnowledgeBase::lookup(const std::string& category, bool* found) const {
  auto it = abilities.find(category);
  if (found) *found = it != abilities.end();
  return it == abilities.end() ? 0u : it->second;
}

int32_t Task::find(const std::string& name) const {
  auto it = index_of.find(name);
  return it == index_of.end() ? -1 : it->second;
}

namespace {

// Predicates the executor changes: they always get storage.
const std::vector<Predicate> kExecutorBinary = {Predicate::kOnTop, Predicate::kInside, Predicate::kNextTo,
                                                Predicate::kUnder, Predicate::kOnFloor};

class GoalCompiler {
 public:
  GoalCompiler(Task& task, const std::string& file) : task_(task), file_(file) {}

  int32_t compile(const SExpr& e, bool negated) {
    if (!e.is_list || e.children.empty()) fail(e, "expected a formula '(...)'");
    if (e.children[0].is_list) fail(e.children[0], "expected a predicate or operator name");
    const std::string& head = e.children[0].atom;
    const size_t n = e.children.size() - 1;
    if (head == "and" || head == "or") {
      bool is_and = (head == "and") != negated;
      std::vector<int32_t> kids;
      for (size_t i = 1; i <= n; ++i) kids.push_back(compile(e.children[i], negated));
      return add(is_and ? GoalOp::kAnd : GoalOp::kOr, kids);
    }
    if (head == "not") {
      if (n != 1) fail(e, "'not' takes exactly one formula, got " + std::to_string(n));
      return compile(e.children[1], !negated);
    }
    if (head == "imply") {
      if (n != 2) fail(e, "'imply' takes two formulas, got " + std::to_string(n));
      // a -> b  ==  (not a) or b ;  not(a -> b)  ==  a and (not b)
      int32_t a = compile(e.children[1], !negated);
      int32_t b = compile(e.children[2], negated);
      return add(negated ? GoalOp::kAnd : GoalOp::kOr, {a, b});
    }
    if (head == "forall" || head == "exists") {
      if (n != 2) fail(e, "'" + head + "' takes (?var - type) and one formula");
      auto [var, domain] = binding(e.children[1]);
      std::vector<int32_t> kids;
      for (int32_t obj : domain) kids.push_back(with(var, obj, [&] { return compile(e.children[2], negated); }));
      bool is_and = (head == "forall") != negated;
      return add(is_and ? GoalOp::kAnd : GoalOp::kOr, kids);
    }
    if (head == "forn") {
      if (n != 3) fail(e, "'forn' takes (N), (?var - type) and one formula");
      int32_t count = number(e.children[1]);
      auto [var, domain] = binding(e.children[2]);
      std::vector<int32_t> kids;
      for (int32_t obj : domain) kids.push_back(with(var, obj, [&] { return compile(e.children[3], false); }));
      return maybe_not(add(GoalOp::kForN, kids, count), negated);
    }
    if (head == "forpairs" || head == "fornpairs") {
      bool counted = head == "fornpairs";
      if (n != (counted ? 4u : 3u)) fail(e, "'" + head + "' takes " + (counted ? "(N), " : "") + "two (?var - type) and one formula");
      size_t k = 1;
      int32_t count = counted ? number(e.children[k++]) : 0;
      auto [var1, dom1] = binding(e.children[k++]);
      auto [var2, dom2] = binding(e.children[k++]);
      const SExpr& body = e.children[k];
      std::vector<int32_t> kids;
      for (int32_t a : dom1)
        for (int32_t b : dom2)
          kids.push_back(a == b ? constant(false)  // bddl skips a == b pairs
                                : with(var1, a, [&] { return with(var2, b, [&] { return compile(body, false); }); }));
      int32_t cols = static_cast<int32_t>(dom2.size());
      int32_t node = counted ? add(GoalOp::kForNPairs, kids, count, cols) : add(GoalOp::kForPairs, kids, cols);
      return maybe_not(node, negated);
    }
    return literal(e, negated);
  }

  GoalProgram& program() { return task_.goal; }

 private:
  [[noreturn]] void fail(const SExpr& e, const std::string& msg) { throw ParseError({file_, e.line, e.column}, msg); }

  int32_t add(GoalOp op, const std::vector<int32_t>& kids, int32_t param = 0, int32_t param2 = 0) {
    GoalProgram& g = task_.goal;
    GoalNode node;
    node.op = op;
    node.first_child = static_cast<int32_t>(g.children.size());
    node.num_children = static_cast<int32_t>(kids.size());
    node.param = param;
    node.param2 = param2;
    g.children.insert(g.children.end(), kids.begin(), kids.end());
    g.nodes.push_back(node);
    return static_cast<int32_t>(g.nodes.size()) - 1;
  }

  int32_t constant(bool value) {
    GoalNode node;
    node.op = GoalOp::kConst;
    node.negated = !value;
    task_.goal.nodes.push_back(node);
    return static_cast<int32_t>(task_.goal.nodes.size()) - 1;
  }

  int32_t maybe_not(int32_t node, bool negated) { return negated ? add(GoalOp::kNot, {node}) : node; }

  int32_t number(const SExpr& e) {
    // bddl writes (forn (2) ...); accept a bare 2 as well.
    const SExpr* t = &e;
    if (e.is_list) {
      if (e.children.size() != 1) fail(e, "expected a count such as (2)");
      t = &e.children[0];
    }
    if (t->is_list || t->atom.empty() || t->atom.size() > 6 ||
        !std::all_of(t->atom.begin(), t->atom.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(*t, "expected a non-negative count, got '" + to_string(*t) + "'");
    return std::stoi(t->atom);
  }

  std::pair<std::string, std::vector<int32_t>> binding(const SExpr& e) {
    if (!e.is_list || e.children.size() != 3 || e.children[0].is_list || !e.children[1].is_atom("-") ||
        e.children[2].is_list || e.children[0].atom.empty() || e.children[0].atom[0] != '?')
      fail(e, "expected a typed variable '(?var - type)'");
    const std::string& type = e.children[2].atom;
    auto it = task_.by_category.find(type);
    if (it == task_.by_category.end()) {
      warn(e, "quantifier over type '" + type + "' which no object has: its domain is empty");
      return {e.children[0].atom, {}};
    }
    return {e.children[0].atom, it->second};
  }

  template <class F>
  int32_t with(const std::string& var, int32_t obj, F&& body) {
    scope_.emplace_back(var, obj);  // inner bindings shadow outer ones
    int32_t node = body();
    scope_.pop_back();
    return node;
  }

  // A term is a bound ?variable, a declared object, or 'cat.n.01_*' (any instance).
  std::vector<int32_t> resolve(const SExpr& t) {
    if (t.is_list) fail(t, "expected an object or variable, got a list");
    const std::string& name = t.atom;
    if (!name.empty() && name[0] == '?') {
      for (auto it = scope_.rbegin(); it != scope_.rend(); ++it)
        if (it->first == name) return {it->second};
      // BEHAVIOR-1K writes declared objects with a '?' too: (filled ?tub.n.01_1 ?water.n.06_1).
      int32_t idx = task_.find(name.substr(1));
      if (idx >= 0) return {idx};
      fail(t, "unbound variable '" + name + "' (and no object '" + name.substr(1) + "')");
    }
    if (name.size() > 2 && name.compare(name.size() - 2, 2, "_*") == 0) {
      auto it = task_.by_category.find(name.substr(0, name.size() - 2));
      if (it == task_.by_category.end()) fail(t, "no object of category '" + name.substr(0, name.size() - 2) + "' for '" + name + "'");
      return it->second;
    }
    int32_t idx = task_.find(name);
    if (idx < 0) fail(t, "undeclared object '" + name + "'");
    return {idx};
  }

  int32_t literal(const SExpr& e, bool negated) {
    const std::string& head = e.children[0].atom;
    auto pred = predicate_from_name(head);
    if (!pred) fail(e.children[0], "unknown predicate '" + head + "'");
    if (*pred == Predicate::kInRoom) fail(e.children[0], "'inroom' is only allowed in :init");
    size_t arity = is_unary(*pred) ? 1 : 2;
    if (e.children.size() - 1 != arity)
      fail(e, "predicate '" + head + "' takes " + std::to_string(arity) + " argument(s), got " +
                  std::to_string(e.children.size() - 1));
    std::vector<int32_t> as = resolve(e.children[1]);
    std::vector<int32_t> bs = arity == 2 ? resolve(e.children[2]) : std::vector<int32_t>{-1};
    // 'cat_*' terms: the literal holds for some instance (or, negated, for none).
    std::vector<int32_t> kids;
    for (int32_t a : as)
      for (int32_t b : bs) kids.push_back(atom_literal(*pred, a, b, negated));
    if (kids.size() == 1) return kids[0];
    return add(negated ? GoalOp::kAnd : GoalOp::kOr, kids);
  }

  int32_t atom_literal(Predicate p, int32_t a, int32_t b, bool negated) {
    GroundAtom atom{p, a, b};
    GoalProgram& g = task_.goal;
    int32_t idx;
    auto it = std::find(g.atoms.begin(), g.atoms.end(), atom);
    if (it == g.atoms.end()) {
      g.atoms.push_back(atom);
      idx = static_cast<int32_t>(g.atoms.size()) - 1;
    } else {
      idx = static_cast<int32_t>(it - g.atoms.begin());
    }
    GoalNode node;
    node.op = GoalOp::kLiteral;
    node.negated = negated;
    node.atom = idx;
    g.nodes.push_back(node);
    return static_cast<int32_t>(g.nodes.size()) - 1;
  }

  void warn(const SExpr& e, const std::string& msg) {
    task_.warnings.push_back(SourceLocation{file_, e.line, e.column}.str() + ": " + msg);
  }

  Task& task_;
  const std::string& file_;
  std::vector<std::pair<std::string, int32_t>> scope_;
};

// True when making `parent` the support parent of `child` closes a loop
// (an init that says a is on b and b is on a): such a parent is not taken.
bool would_cycle(const std::vector<int32_t>& parents, int32_t child, int32_t parent) {
  for (int32_t p = parent, steps = 0; p >= 0 && steps <= static_cast<int32_t>(parents.size()); p = parents[p], ++steps)
    if (p == child) return true;
  return false;
}

struct InitLiteral {
  Predicate pred;
  int32_t a, b;
  bool value;
};

}  // namespace

TaskPtr compile_task(const Problem& problem, const KnowledgeBase& kb, const CompileOptions& options) {
  auto task = std::make_shared<Task>();
  Task& t = *task;
  t.name = problem.name;
  t.filename = problem.filename;
  const std::string& file = problem.filename;
  auto fail = [&](int32_t line, int32_t col, const std::string& msg) { throw ParseError({file, line, col}, msg); };

  t.warnings = problem.warnings;
  // Objects.
  std::set<std::string> unknown_categories;
  for (const auto& o : problem.objects) {
    if (t.index_of.count(o.name)) {
      const Object& first = t.objects[t.index_of[o.name]];
      if (first.category != o.type)
        fail(o.line, o.column, "object '" + o.name + "' is declared twice with different types ('" + first.category + "', '" + o.type + "')");
      if (t.warnings.size() < 100)  // bounded: for people, not a log of a hostile file
        t.warnings.push_back(SourceLocation{file, o.line, o.column}.str() + ": object '" + o.name + "' is declared twice");
      continue;
    }
    Object obj;
    obj.name = o.name;
    obj.category = o.type;
    bool found = false;
    obj.abilities = kb.lookup(o.type, &found);
    if (!found) unknown_categories.insert(o.type);
    if (o.type == "floor.n.01") obj.abilities |= kFloor | kFixed;
    if (o.type == "agent.n.01") obj.abilities |= kAgent;
    t.index_of[o.name] = t.num_objects();
    t.by_category[o.type].push_back(t.num_objects());
    t.objects.push_back(std::move(obj));
  }
  for (const auto& c : unknown_categories)
    t.warnings.push_back(file + ": unknown category '" + c + "': its objects get no abilities");

  // Init literals (validated now; applied once the layout is known).
  std::vector<InitLiteral> init;
  std::vector<Predicate> binary_used = kExecutorBinary;
  for (const SExpr& lit : problem.init) {
    const SExpr* e = &lit;
    bool value = true;
    if (!e->children.empty() && e->children[0].is_atom("not")) {
      if (e->children.size() != 2 || !e->children[1].is_list) fail(e->line, e->column, "expected (not (pred args...))");
      e = &e->children[1];
      value = false;
    }
    if (e->children.empty() || e->children[0].is_list) fail(e->line, e->column, "expected a literal '(pred args...)'");
    const std::string& head = e->children[0].atom;
    auto pred = predicate_from_name(head);
    if (!pred) fail(e->children[0].line, e->children[0].column, "unknown predicate '" + head + "'");
    size_t arity = is_unary(*pred) ? 1 : 2;
    if (e->children.size() - 1 != arity)
      fail(e->line, e->column, "predicate '" + head + "' takes " + std::to_string(arity) + " argument(s), got " +
                                   std::to_string(e->children.size() - 1));
    for (size_t k = 1; k < e->children.size(); ++k)
      if (e->children[k].is_list) fail(e->children[k].line, e->children[k].column, "expected an object name, got a list");
    int32_t a = t.find(e->children[1].atom);
    if (a < 0) fail(e->children[1].line, e->children[1].column, "undeclared object '" + e->children[1].atom + "'");
    if (*pred == Predicate::kInRoom) {
      const std::string& room = e->children[2].atom;
      auto it = std::find(t.rooms.begin(), t.rooms.end(), room);
      int32_t r = static_cast<int32_t>(it - t.rooms.begin());
      if (it == t.rooms.end()) t.rooms.push_back(room);
      if (value) t.objects[a].room = r;
      continue;
    }
    int32_t b = -1;
    if (arity == 2) {
      b = t.find(e->children[2].atom);
      if (b < 0) fail(e->children[2].line, e->children[2].column, "undeclared object '" + e->children[2].atom + "'");
      binary_used.push_back(*pred);
    }
    init.push_back({*pred, a, b, value});
  }

  // Goal.
  GoalCompiler compiler(t, file);
  for (const SExpr& cond : problem.goal) {
    t.goal.conditions.push_back(compiler.compile(cond, false));
    t.goal.condition_text.push_back(to_string(cond));
  }
  for (const GroundAtom& atom : t.goal.atoms)
    if (!is_unary(atom.pred)) binary_used.push_back(atom.pred);

  // Abilities the task itself implies.
  if (options.infer_abilities_from_task) {
    std::map<int32_t, uint32_t> added;
    auto imply = [&](Predicate p, int32_t a, int32_t b) {
      uint32_t need = ability_for_predicate(p);
      if (need && !(t.objects[a].abilities & need)) added[a] |= need;
      if (p == Predicate::kInside && b >= 0 && !(t.objects[b].abilities & kContainer)) added[b] |= kContainer;
      // EAI's water.n.06, beer.n.01, detergent.n.02 are bottles you carry, though
      // BEHAVIOR-1K annotates the synsets as substances: a task that places
      // such an object is talking about a discrete thing.
      bool placed = p == Predicate::kOnTop || p == Predicate::kInside || p == Predicate::kNextTo ||
                    p == Predicate::kUnder || p == Predicate::kOnFloor;
      if (placed && (t.objects[a].abilities & kSubstance)) t.objects[a].abilities &= ~kSubstance;
    };
    for (const auto& l : init) imply(l.pred, l.a, l.b);
    for (const auto& atom : t.goal.atoms) imply(atom.pred, atom.a, atom.b);
    for (auto [obj, bits] : added) t.objects[obj].abilities |= bits;
    if (!added.empty())
      t.warnings.push_back(file + ": " + std::to_string(added.size()) + " object(s) got abilities implied by the task");
  }

  // Semantics profile: the options' choice, or the task text's own directive.
  t.semantics = options.semantics;
  for (const auto& [key, value] : problem.pragmas)
    if (key == "semantics") {
      auto s = semantics_from_name(value);
      if (!s) fail(0, 0, "unknown semantics profile '" + value + "' (expected emx, eai or embomatrix)");
      t.semantics = *s;
    }
  const SemanticsRules& rules = semantics_rules(t.semantics);
  // eai: EAI tests names, not abilities, for these (soak_dry_precond, clean_*_precond,
  // cook_precond, toggle_on_off's dishwasher).
  if (rules.abilities_from_names)
    for (Object& o : t.objects) {
      if (o.abilities & (kFloor | kAgent)) continue;
      auto named = [&](const char* w) { return o.name.find(w) != std::string::npos; };
      o.abilities &= ~(kWaterSource | kDishwasher | kCookingVessel | kSoap);
      if (named("sink") || named("teapot")) o.abilities |= kWaterSource;
      if (named("dishwasher")) o.abilities |= kDishwasher;
      if (named("saucepan")) o.abilities |= kCookingVessel;
      if (named("detergent")) o.abilities |= kSoap;
    }
  // ";@emx states NAME a,b,...": exactly which unary states the object has (for EAI's own
  // tasks, the states of its scene objects); written by the Python layer for the eai profile.
  constexpr uint32_t kStateAbilities =
      kOpenable | kToggleable | kCookable | kFreezable | kSliceable | kSoakable | kDustyable | kStainable;
  for (const auto& [key, value] : problem.pragmas) {
    if (key != "states") continue;
    const size_t sp = value.find(' ');
    auto it = t.index_of.find(value.substr(0, sp));
    if (it == t.index_of.end()) continue;
    static const std::pair<std::string_view, uint32_t> kNames[] = {
        {"openable", kOpenable}, {"toggleable", kToggleable}, {"cookable", kCookable}, {"freezable", kFreezable},
        {"sliceable", kSliceable}, {"soakable", kSoakable}, {"dustyable", kDustyable}, {"stainable", kStainable}};
    uint32_t bits = 0;
    for (size_t i = sp == std::string::npos ? value.size() : sp + 1; i < value.size();) {
      size_t j = value.find(',', i);
      if (j == std::string::npos) j = value.size();
      for (const auto& [n, bit] : kNames)
        if (std::string_view(value).substr(i, j - i) == n) bits |= bit;
      i = j + 1;
    }
    Object& o = t.objects[it->second];
    o.abilities = (o.abilities & ~kStateAbilities) | bits;
  }

  // Hidden slice parts, appended after the declared objects so their indices stay put.
  if (options.create_slice_parts) {
    const int32_t declared = t.num_objects();
    for (int32_t i = 0; i < declared; ++i) {
      if (!(t.objects[i].abilities & kSliceable)) continue;
      for (int k = 0; k < 2; ++k) {
        Object part;
        part.name = t.objects[i].name + "_part_" + std::to_string(k);
        if (t.index_of.count(part.name)) continue;
        part.category = t.objects[i].category;
        // eai: the parts are objects of the scene with the whole's states (Sliced included).
        part.abilities = rules.slice_parts_from_start ? t.objects[i].abilities : t.objects[i].abilities & ~kSliceable;
        part.whole = i;
        part.room = t.objects[i].room;
        t.index_of[part.name] = t.num_objects();
        t.objects.push_back(std::move(part));
      }
    }
  }

  // Layout and initial state.
  // Volumes (the eai profile's size rules): declared objects by name, slice parts half their whole.
  for (const auto& [key, value] : problem.pragmas) {
    if (key != "volume") continue;
    size_t sp = value.rfind(' ');
    auto it = sp == std::string::npos ? t.index_of.end() : t.index_of.find(value.substr(0, sp));
    if (it == t.index_of.end()) continue;
    char* end = nullptr;
    float v = std::strtof(value.c_str() + sp + 1, &end);
    if (end && *end == '\0' && v >= 0.f && v < 1e6f) t.objects[it->second].volume = v;
  }
  for (Object& o : t.objects)
    if (o.whole >= 0 && o.volume == 0.f) o.volume = t.objects[o.whole].volume / 2;

  t.layout = WorldLayout::make(t.num_objects(), binary_used);
  t.initial = WorldState::empty(t.layout);
  for (int32_t i = 0; i < t.num_objects(); ++i)
    if (t.objects[i].whole >= 0 && !rules.slice_parts_from_start) t.initial.set_present(i, false);
  for (const auto& l : init) {
    t.initial.set(t.layout, l.pred, l.a, l.b, l.value);
    if (l.pred == Predicate::kNextTo) t.initial.set(t.layout, l.pred, l.b, l.a, l.value);
    // The first ontop/inside of an object makes its support parent (EAI's relation tree).
    if (l.value && (l.pred == Predicate::kOnTop || l.pred == Predicate::kInside) && t.initial.parent[l.a] < 0 &&
        !(t.objects[l.b].abilities & kFloor) && !would_cycle(t.initial.parent, l.a, l.b)) {
      t.initial.parent[l.a] = l.b;
      t.initial.support[l.a] = l.pred == Predicate::kOnTop ? Support::kOnTop : Support::kInside;
    }
  }
  // eai: what stands in a room on nothing else stands on that room's floor (iGibson's
  // geometric OnFloor, which EAI's graph starts from).
  // Wall-mounted objects (";@emx mounted NAME": windows, top cabinets) hang above it.
  if (rules.room_objects_on_floor && t.layout.stores(Predicate::kOnFloor)) {
    std::set<std::string> mounted;
    for (const auto& [key, value] : problem.pragmas)
      if (key == "mounted") mounted.insert(value);
    for (int32_t i = 0; i < t.num_objects(); ++i) {
      const Object& o = t.objects[i];
      if (o.room < 0 || o.whole >= 0 || (o.abilities & (kFloor | kAgent)) || t.initial.parent[i] >= 0 ||
          mounted.count(o.name))
        continue;
      int32_t floor = -1;
      bool on_floor = false;
      for (int32_t f = 0; f < t.num_objects(); ++f) {
        if (!(t.objects[f].abilities & kFloor)) continue;
        on_floor |= t.initial.get(t.layout, Predicate::kOnFloor, i, f) || t.initial.get(t.layout, Predicate::kOnTop, i, f);
        if (floor < 0 && t.objects[f].room == o.room) floor = f;
      }
      if (!on_floor && floor >= 0) t.initial.set(t.layout, Predicate::kOnFloor, i, floor, true);
    }
  }
  // Parts start where their whole is; a whole already sliced in :init has
  // its parts in the scene from the start.
  for (int32_t i = 0; i < t.num_objects(); ++i) {
    int32_t w = t.objects[i].whole;
    if (w < 0) continue;
    // eai: until the whole is sliced its parts are nowhere (iGibson keeps them out of the scene).
    if (rules.slice_parts_from_start && !t.initial.get(t.layout, Predicate::kSliced, w)) continue;
    t.initial.parent[i] = t.initial.parent[w];
    t.initial.support[i] = t.initial.support[w];
    if (t.initial.get(t.layout, Predicate::kSliced, w)) {
      t.initial.set_present(i, true);
      for (int p = 0; p < kNumUnaryPredicates; ++p)
        t.initial.set(t.layout, static_cast<Predicate>(p), i, t.initial.get(t.layout, static_cast<Predicate>(p), w));
    }
  }
  return task;
}

}  // namespace emx
